-- id: X04
-- stage: 4
-- severity: error
-- fields: id_number, student_no
-- title.en: The same resident ID has more than one student number at this school
-- title.zh: 同一居民身份证号在本校有多个学籍号
-- fix.en: One student has one registration. Keep the registration with the right student number and remove the others.
-- fix.zh: 一名学生只能有一个学籍。请保留学籍号正确的一条，删除其余重复的学籍。
-- why.en: One child has one registration; several student numbers for one ID number double count the child.
-- why.zh: 一名学生只有一个学籍；同一证件号对应多个学籍号会重复统计该学生。
-- example.wrong: 230102201503040023 under G230102201503040023 and L230102201503040099
-- example.right: one row, with student number G230102201503040023
-- example.wrong: 230102201503040023 twice, once with a mistyped student number
-- example.right: one row, with the right student number
-- explain: no
-- version: 4
-- partners: school_code, id_number
-- Every row of a school whose resident ID (as in X03) appears there under two or more distinct student numbers (of
-- valid form: one that failed F01 is hidden by then). detail lists the school's student numbers for that ID.
WITH candidate AS (
    SELECT c.record_id, c.school_code, c.student_no, c.id_number, c.id_number_raw
    FROM   checked_record c
    WHERE  c.round_id = @round_id
      AND  c.id_type = '1' AND c.id_number IS NOT NULL
      AND  c.school_code IS NOT NULL
      AND  c.student_no IS NOT NULL
),
duplicate_key AS (
    -- The keys held by two rows or more first (count only: min and max of text over the whole round cost 10-20 % of
    -- the rule), then the rows of those few keys, grouped again to keep the groups the rule is about: carrying every
    -- row's values through the grouping of the round cost more.
    SELECT school_code, id_number FROM candidate GROUP BY school_code, id_number HAVING count(*) >= 2
),
duplicate AS (
    SELECT array_agg(c.record_id) AS record_ids, array_agg(c.id_number_raw) AS raws, array_agg(c.student_no) AS student_nos
    FROM   candidate c
    JOIN   duplicate_key k ON k.school_code = c.school_code AND k.id_number = c.id_number
    GROUP  BY c.school_code, c.id_number
    HAVING min(c.student_no) <> max(c.student_no)
)
SELECT u.record_id, NULL::text AS school_code, 'id_number' AS field, u.value,
       'student numbers ' || (SELECT string_agg(DISTINCT n, ', ' ORDER BY n) FROM unnest(d.student_nos) AS n) AS detail,
       NULL::text AS severity
FROM   duplicate d
CROSS  JOIN LATERAL unnest(d.record_ids, d.raws) AS u (record_id, value);
