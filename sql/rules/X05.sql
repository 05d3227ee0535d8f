-- id: X05
-- stage: 4
-- severity: warning
-- fields: name, gender, birth_date, id_type
-- title.en: Possibly the same student twice: students without an ID share name, gender and birth date
-- title.zh: 疑似重复学籍：无身份证件的学生姓名、性别、出生日期相同
-- fix.en: Check whether these registrations (the schools are in the details) are the same child. If so, keep one and remove the others; if not, confirm the finding.
-- fix.zh: 请核实这些学籍（学校见详情）是否为同一名学生。如是，保留一条、删除其余；如不是，请确认此提示。
-- why.en: Children without an ID are easy to register twice; matching name, gender and birth date may be one child, or two children to confirm.
-- why.zh: 无证件学生容易重复注册；姓名、性别、出生日期相同可能是同一名学生，也可能是需确认的两名学生。
-- example.wrong: 王芳, 2, 20150304, id_type Z, at two schools (the same child)
-- example.right: one registration, at the school she attends
-- example.wrong: 李明, 1, 20150304, id_type Z, at two schools (two different children)
-- example.right: both kept, confirmed: two different children
-- explain: yes
-- version: 3
-- partners: name, gender, birth_date
-- Every id_type Z row whose name, gender and birth date (all present; by stage 4 a name that failed F10 and a birth
-- date that failed F06 are hidden) are shared with another Z row anywhere in the province. detail names the schools of the other rows only.
WITH candidate AS (
    SELECT c.record_id, coalesce(c.school_code, c.school_code_raw) AS school_code, c.name_raw,
           c.name, c.gender, c.birth_date
    FROM   checked_record c
    WHERE  c.round_id = @round_id
      AND  c.id_type = 'Z'
      AND  c.gender IS NOT NULL
      AND  c.birth_date IS NOT NULL
      AND  c.name <> ''
),
duplicate_key AS (
    -- The keys alone first (hashable aggregates only: min <> max where count(DISTINCT …) would sort the round), then
    -- the rows of the few duplicate groups: carrying every row's values through the grouping of the round cost more.
    SELECT name, gender, birth_date FROM candidate GROUP BY name, gender, birth_date HAVING count(*) >= 2
),
duplicate AS (
    SELECT array_agg(c.record_id) AS record_ids, array_agg(c.school_code) AS schools, array_agg(c.name_raw) AS raws
    FROM   candidate c
    JOIN   duplicate_key k ON k.name = c.name AND k.gender = c.gender AND k.birth_date = c.birth_date
    GROUP  BY c.name, c.gender, c.birth_date
)
SELECT u.record_id, NULL::text AS school_code, 'name' AS field, u.value,
       (SELECT 'also at ' || string_agg(DISTINCT coalesce(o.code, '?') || coalesce(' ' || (SELECT min(btrim(s.school_name_raw, E' \t\r\n\u3000\u00a0')) FROM registry.school s WHERE s.round_id = @round_id AND s.school_code = o.code), ''), '; ')
        FROM   unnest(d.record_ids, d.schools) AS o (record_id, code)
        WHERE  o.record_id <> u.record_id) AS detail,
       NULL::text AS severity
FROM   duplicate d
CROSS  JOIN LATERAL unnest(d.record_ids, d.raws) AS u (record_id, value);
