-- id: X03
-- stage: 4
-- severity: error
-- fields: id_number, school_code
-- title.en: The same resident ID is registered at more than one school
-- title.zh: 同一居民身份证号在多所学校注册
-- fix.en: A student may be registered at one school only. Contact the other school named in the details: the school the student no longer attends removes the registration; if the ID number is wrong here, correct it.
-- fix.zh: 一名学生只能在一所学校注册学籍。请与详情中列出的学校联系：学生已不在读的学校应删除该学籍；如本校填写的身份证件号有误，请更正。
-- why.en: A child registered at two schools is counted and funded twice, and neither school knows which one is responsible.
-- why.zh: 同一学生在两所学校注册会被重复统计和重复拨付经费，也无法明确由哪所学校负责。
-- example.wrong: 230102201503040023 at two schools
-- example.right: one registration, at the school the child attends
-- example.wrong: 230102201503040023 typed here for another child who has 230103201607210011
-- example.right: 230103201607210011 here, the other school keeps 230102201503040023
-- explain: no
-- version: 4
-- partners: id_number
-- Every row of an ID found at two or more school codes. Only resident IDs (id_type 1) count; by stage 4 an ID or a
-- school code that failed stage 2 (F02/F03/F04/F12, F09) is hidden, and F05's retired region does not matter.
-- detail names only the other schools (code and name from the school master), never another school's student data.
WITH candidate AS (
    SELECT c.record_id, c.school_code, c.id_number, c.id_number_raw
    FROM   checked_record c
    WHERE  c.round_id = @round_id
      AND  c.id_type = '1' AND c.id_number IS NOT NULL
      AND  c.school_code IS NOT NULL
),
duplicate_key AS (
    -- The keys held by two rows or more first (count only: min and max of text over the whole round cost 10-20 % of
    -- the rule), then the rows of those few keys, grouped again to keep the groups the rule is about: carrying every
    -- row's values through the grouping of the round cost more.
    SELECT id_number FROM candidate GROUP BY id_number HAVING count(*) >= 2
),
duplicate AS (
    SELECT array_agg(c.record_id) AS record_ids, array_agg(c.school_code) AS schools, array_agg(c.id_number_raw) AS raws
    FROM   candidate c
    JOIN   duplicate_key k ON k.id_number = c.id_number
    GROUP  BY c.id_number
    HAVING min(c.school_code) <> max(c.school_code)
)
SELECT u.record_id, NULL::text AS school_code, 'id_number' AS field, u.value,
       (SELECT 'also at ' || string_agg(DISTINCT o.code || coalesce(' ' || (SELECT min(btrim(s.school_name_raw, E' \t\r\n\u3000\u00a0')) FROM registry.school s WHERE s.round_id = @round_id AND s.school_code = o.code), ''), '; ')
        FROM   unnest(d.schools) AS o (code)
        WHERE  o.code <> u.school_code) AS detail,
       NULL::text AS severity
FROM   duplicate d
CROSS  JOIN LATERAL unnest(d.record_ids, d.schools, d.raws) AS u (record_id, school_code, value);
