-- id: A03
-- stage: school
-- severity: warning
-- fields: school_code, id_type
-- title.en: More than 2% of the school's students have no ID
-- title.zh: 学校无身份证件的学生超过2%
-- fix.en: Help the families of students without an ID to obtain one (household registration) and fill in the ID numbers; confirm the finding for students who cannot have one yet.
-- fix.zh: 请协助无身份证件学生的家庭办理户籍登记和身份证件，并补填证件号；确实暂时无法办理的，请确认此提示。
-- why.en: Many children without an ID at one school means families need help with household registration.
-- why.zh: 一所学校无证件学生较多，说明有家庭需要协助办理户籍登记。
-- example.wrong: 12 of 300 students without an ID (4%)
-- example.right: 5 of 300 students without an ID, after the families got IDs
-- example.wrong: 9 of 300 students without an ID, registrations in progress
-- example.right: kept, finding confirmed with the proof of attendance of each
-- explain: yes
-- version: 3
-- partners: school_code
-- Open schools with rows in this round whose id_type Z rows are more than 2% of them (in whole numbers:
-- 50 × Z rows > rows). detail gives both counts.
WITH open_school AS (
    SELECT s.school_code, min(s.school_code_raw) AS school_code_raw
    FROM   registry.school s
    WHERE  s.round_id = @round_id AND s.is_open AND s.school_code IS NOT NULL
    GROUP  BY s.school_code
),
now_count AS (
    SELECT c.school_code, count(*) AS n, count(*) FILTER (WHERE c.id_type = 'Z') AS z
    FROM   checked_record c
    WHERE  c.round_id = @round_id
    GROUP  BY c.school_code
)
SELECT NULL::bigint AS record_id, s.school_code, 'school_code' AS field, s.school_code_raw AS value,
       c.z || ' of ' || c.n || ' students without an ID' AS detail, NULL::text AS severity
FROM   open_school s
JOIN   now_count c ON c.school_code = s.school_code
WHERE  50 * c.z > c.n;
