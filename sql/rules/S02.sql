-- id: S02
-- stage: 1
-- severity: error
-- fields: student_no, school_code, school_name, name, gender, birth_date, birthplace, nationality, ethnicity, id_type, id_number, hmt_status, household_region, household_type, grade, class_name, entry_month, study_mode, only_child, migrant_child, left_behind, disability, guardian_name, guardian_relation, guardian_phone, guardian_id_number, address
-- title.en: Value has unreadable characters or is too long
-- title.zh: 填写内容含乱码或超出长度
-- fix.en: Type the value again by hand (do not paste it from another system) and keep it within the field's length; garbled characters such as � come from a wrong file encoding.
-- fix.zh: 请手工重新录入此项（不要从其他系统粘贴），并不超过规定长度；“�”等乱码通常是文件编码错误造成的。
-- why.en: Garbled or overlong text cannot be read by the next school or the national system, so the child's record is lost in transfer.
-- why.zh: 乱码或超长的内容无法被转入学校和全国系统识别，孩子的学籍信息会在流转中丢失。
-- example.wrong: name: 李�明
-- example.right: name: 李明
-- example.wrong: address: 哈尔滨市道里区示例街1号 followed by 200 more characters pasted from another system
-- example.right: address: 哈尔滨市道里区示例街1号
-- example.wrong: class_name: 三年二班 with a control character pasted in
-- example.right: class_name: 三年二班
-- explain: no
-- version: 3
-- A non-empty value (empty is S01's) with a control character (U+0001–U+001F, U+007F–U+009F; PostgreSQL text
-- cannot hold U+0000), the replacement character U+FFFD, or more UTF-16 code units than the field's MaxLength in
-- Layouts.cs (a character outside the BMP counts twice, as it does for the program that wrote the limit).
SELECT c.record_id, NULL::text AS school_code, f.field, f.value,
       CASE WHEN f.value ~ '[\u0001-\u001f\u007f-\u009f\ufffd]' THEN 'unreadable character'
            ELSE 'length ' || (length(f.value) + regexp_count(f.value, '[\U00010000-\U0010ffff]')) || ', at most ' || f.max_length
       END AS detail,
       NULL::text AS severity
FROM   checked_record c
CROSS  JOIN LATERAL (VALUES ('student_no', c.student_no_raw, 19),
                           ('school_code', c.school_code_raw, 10),
                           ('school_name', c.school_name_raw, 100),
                           ('name', c.name_raw, 30),
                           ('gender', c.gender_raw, 10),
                           ('birth_date', c.birth_date_raw, 20),
                           ('birthplace', c.birthplace_raw, 20),
                           ('nationality', c.nationality_raw, 40),
                           ('ethnicity', c.ethnicity_raw, 20),
                           ('id_type', c.id_type_raw, 30),
                           ('id_number', c.id_number_raw, 30),
                           ('hmt_status', c.hmt_status_raw, 20),
                           ('household_region', c.household_region_raw, 20),
                           ('household_type', c.household_type_raw, 20),
                           ('grade', c.grade_raw, 10),
                           ('class_name', c.class_name_raw, 30),
                           ('entry_month', c.entry_month_raw, 20),
                           ('study_mode', c.study_mode_raw, 10),
                           ('only_child', c.only_child_raw, 10),
                           ('migrant_child', c.migrant_child_raw, 10),
                           ('left_behind', c.left_behind_raw, 20),
                           ('disability', c.disability_raw, 20),
                           ('guardian_name', c.guardian_name_raw, 30),
                           ('guardian_relation', c.guardian_relation_raw, 20),
                           ('guardian_phone', c.guardian_phone_raw, 20),
                           ('guardian_id_number', c.guardian_id_number_raw, 30),
                           ('address', c.address_raw, 200)) AS f (field, value, max_length)
WHERE  c.round_id = @round_id
  -- The fields whose text is unreadable or too long were noted when the version was written (bad_text_fields, by the
  -- definition above): only the few records with one are taken apart field by field.
  AND  c.bad_text_fields IS NOT NULL
  AND  f.field = ANY (c.bad_text_fields);
