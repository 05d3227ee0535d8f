-- id: X03
-- stage: 4
-- severity: error
-- fields: id_number, school_code
-- title.en: The same resident ID is registered at more than one school
-- title.zh: 同一居民身份证号在多所学校注册
-- fix.en: A student may be registered at one school only. Contact the other school named in the details: the school the student no longer attends removes the registration; if the ID number is wrong here, correct it.
-- fix.zh: 一名学生只能在一所学校注册学籍。请与详情中列出的学校联系：学生已不在读的学校应删除该学籍；如本校填写的身份证件号有误，请更正。
-- version: 1
-- Every row of an ID found at two or more school codes. Only valid resident IDs (id_type 1, right shape, check
-- character and birth date: what F02/F03/F04/F12 check, repeated so the rule stands on its own; F05's retired
-- region does not matter) and school codes of valid form count. detail names only the other schools (code and
-- name from the school master), never another school's student data.
WITH candidate AS (
    SELECT c.record_id, c.school_code, c.id_number, c.id_number_raw
    FROM   checked_record c
    WHERE  c.round_id = @round_id
      AND  c.id_type = '1' AND quality.id_check_ok(c.id_number) AND quality.id_birth_date(c.id_number) IS NOT NULL
      AND  c.school_code ~ '^[0-9]{10}$' AND substr(c.school_code, 3, 2) = @province
),
id_school AS (
    SELECT id_number, school_code FROM candidate GROUP BY id_number, school_code
),
duplicate AS (
    SELECT id_number FROM id_school GROUP BY id_number HAVING count(*) >= 2
),
school_name AS (
    SELECT s.school_code, min(btrim(s.school_name_raw, E' \t\r\n\u3000\u00a0')) AS name
    FROM   registry.school s
    WHERE  s.round_id = @round_id AND s.school_code IS NOT NULL
    GROUP  BY s.school_code
)
SELECT c.record_id, NULL::text AS school_code, 'id_number' AS field, c.id_number_raw AS value,
       'also at ' || string_agg(o.school_code || coalesce(' ' || n.name, ''), '; ' ORDER BY o.school_code) AS detail,
       NULL::text AS severity
FROM   candidate c
JOIN   duplicate d ON d.id_number = c.id_number
JOIN   id_school o ON o.id_number = c.id_number AND o.school_code <> c.school_code
LEFT   JOIN school_name n ON n.school_code = o.school_code
GROUP  BY c.record_id, c.id_number_raw;
