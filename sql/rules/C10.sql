-- id: C10
-- stage: 3
-- severity: warning
-- fields: id_type
-- title.en: Student without an ID number (must carry proof of attendance)
-- title.zh: 无身份证件号的学生（须有就读证明材料）
-- fix.en: Apply for the child's resident ID (household registration) and enter it; until then explain and keep the proof of attendance.
-- fix.zh: 请尽快为学生办理户籍和身份证件并补录；在此之前请填写说明并留存就读证明。
-- why.en: A child without an ID still has the right to school; the finding makes sure the family is helped to register the child.
-- why.zh: 无身份证件的儿童同样享有受教育权利；此提示确保学校协助家庭为孩子办理户籍登记。
-- example.wrong: id_type Z, no ID number (the ID has been issued)
-- example.right: id_type 1, ID 230102201503040023
-- example.wrong: id_type Z, household registration still in progress
-- example.right: kept as it is, explained, with the proof of attendance kept
-- explain: yes
-- version: 2
SELECT c.record_id, NULL::text AS school_code, 'id_type' AS field, c.id_type_raw AS value,
       NULL::text AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.id_type = 'Z';
