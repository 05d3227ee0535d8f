-- id: F08
-- stage: 2
-- severity: error
-- fields: gender, nationality, ethnicity, id_type, hmt_status, household_type, grade, study_mode, only_child, migrant_child, left_behind, disability, guardian_relation, birthplace, household_region
-- title.en: Value is not in the field's code list
-- title.zh: 代码不在规定的代码表中
-- fix.en: Choose a value from the field's code list (the code or its name, e.g. ethnicity 01 or 汉族; grade 1–12 or 初一); birthplace and household region are 6-digit county codes.
-- fix.zh: 请按代码表填写（代码或名称均可，如民族填 01 或“汉族”，年级填 1–12 或“初一”）；出生地和户口所在地填写 6 位县级行政区划代码。
-- why.en: A value outside the code list cannot be counted in the province's statistics, so the child is missing from them.
-- why.zh: 不在代码表中的值无法纳入全省统计，学生就会在统计中缺失。
-- example.wrong: ethnicity: 火星族
-- example.right: ethnicity: 01 (or 汉族)
-- example.wrong: grade: 13
-- example.right: grade: 7 (or 初一)
-- example.wrong: birthplace: 239999
-- example.right: birthplace: 230102
-- explain: no
-- version: 3
-- One finding per field. A coded field's typed column is NULL when its text is neither a code nor a name of the
-- list; a region must be the six-digit code of a current region; an empty optional field is no finding.
SELECT c.record_id, NULL::text AS school_code, f.field, f.value, f.detail, NULL::text AS severity
FROM   checked_record c
LEFT   JOIN reference.region bp ON bp.code = c.birthplace
LEFT   JOIN reference.region hr ON hr.code = c.household_region
CROSS  JOIN LATERAL (VALUES ('gender', c.gender_raw, c.gender IS NULL, 'code list gender'),
                           ('nationality', c.nationality_raw, c.nationality IS NULL, 'code list nationality'),
                           ('ethnicity', c.ethnicity_raw, c.ethnicity IS NULL, 'code list ethnicity'),
                           ('id_type', c.id_type_raw, c.id_type IS NULL, 'code list id_type'),
                           ('hmt_status', c.hmt_status_raw, c.hmt_status IS NULL, 'code list hmt_status'),
                           ('household_type', c.household_type_raw, c.household_type IS NULL, 'code list household_type'),
                           ('grade', c.grade_raw, c.grade IS NULL, 'expected grade 1–12'),
                           ('study_mode', c.study_mode_raw, c.study_mode IS NULL, 'code list study_mode'),
                           ('only_child', c.only_child_raw, c.only_child IS NULL, 'code list yes_no'),
                           ('migrant_child', c.migrant_child_raw, c.migrant_child IS NULL, 'code list yes_no'),
                           ('left_behind', c.left_behind_raw, c.left_behind IS NULL, 'code list left_behind'),
                           ('disability', c.disability_raw, c.disability IS NULL, 'code list disability'),
                           ('guardian_relation', c.guardian_relation_raw, c.guardian_relation IS NULL, 'code list guardian_relation'),
                           ('birthplace', c.birthplace_raw, bp.code IS NULL, 'unknown region code'),
                           ('household_region', c.household_region_raw, hr.code IS NULL, 'unknown region code'))
             AS f (field, value, failed, detail)
WHERE  c.round_id = @round_id
  -- Most records have no unknown code: one test per record first, so only the few with one are taken apart.
  AND  (c.gender IS NULL OR c.nationality IS NULL OR c.ethnicity IS NULL OR c.id_type IS NULL OR c.hmt_status IS NULL
        OR c.household_type IS NULL OR c.grade IS NULL OR c.study_mode IS NULL OR c.only_child IS NULL
        OR c.migrant_child IS NULL OR c.left_behind IS NULL OR c.disability IS NULL OR c.guardian_relation IS NULL
        OR bp.code IS NULL OR hr.code IS NULL)
  AND  f.failed
  AND  btrim(f.value, E' \t\r\n\u3000\u00a0') <> '';
