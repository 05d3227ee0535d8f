-- id: S01
-- stage: 1
-- severity: error
-- fields: student_no, school_code, name, gender, birth_date, birthplace, nationality, ethnicity, id_type, id_number, hmt_status, household_region, grade, class_name, entry_month, study_mode, migrant_child, left_behind, guardian_name, guardian_relation, guardian_phone, address
-- title.en: Required field is missing
-- title.zh: 必填项缺失
-- fix.en: Fill in this field; it is required for every student (the ID number may be empty only when the ID type is Z, none).
-- fix.zh: 请填写此项，每名学生都必须填写（仅当身份证件类型为“无”时身份证件号可以为空）。
-- why.en: A student with a missing value cannot be counted, placed or protected: every required field is needed for the child's registration.
-- why.zh: 必填项缺失，学生就无法被准确统计、安置和保障：每一项必填信息都是孩子学籍所必需的。
-- example.wrong: name: (empty)
-- example.right: name: 李明
-- example.wrong: birth_date: (only spaces)
-- example.right: birth_date: 20150304
-- example.wrong: id_number: (empty) with id_type 1
-- example.right: id_number: 230102201503040023 (or id_type Z when the child has no ID yet)
-- explain: no
-- version: 3
-- One finding per empty field. White space only (including the full-width space U+3000) counts as empty.
SELECT c.record_id, NULL::text AS school_code, f.field, f.value, NULL::text AS detail, NULL::text AS severity
FROM   checked_record c
CROSS  JOIN LATERAL (VALUES ('student_no', c.student_no_raw),
                           ('school_code', c.school_code_raw),
                           ('name', c.name_raw),
                           ('gender', c.gender_raw),
                           ('birth_date', c.birth_date_raw),
                           ('birthplace', c.birthplace_raw),
                           ('nationality', c.nationality_raw),
                           ('ethnicity', c.ethnicity_raw),
                           ('id_type', c.id_type_raw),
                           ('id_number', c.id_number_raw),
                           ('hmt_status', c.hmt_status_raw),
                           ('household_region', c.household_region_raw),
                           ('grade', c.grade_raw),
                           ('class_name', c.class_name_raw),
                           ('entry_month', c.entry_month_raw),
                           ('study_mode', c.study_mode_raw),
                           ('migrant_child', c.migrant_child_raw),
                           ('left_behind', c.left_behind_raw),
                           ('guardian_name', c.guardian_name_raw),
                           ('guardian_relation', c.guardian_relation_raw),
                           ('guardian_phone', c.guardian_phone_raw),
                           ('address', c.address_raw)) AS f (field, value)
WHERE  c.round_id = @round_id
  -- The fields that are blank were noted when the version was written (registry.record_version.blank_fields): only
  -- the few records with one are taken apart field by field.
  AND  c.blank_fields IS NOT NULL
  AND  f.field = ANY (c.blank_fields)
  AND  (f.field <> 'id_number' OR c.id_type IS DISTINCT FROM 'Z');
