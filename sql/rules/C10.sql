-- id: C10
-- stage: 3
-- severity: warning
-- fields: id_type
-- title.en: Student without an ID number (must carry proof of attendance)
-- title.zh: 无身份证件号的学生（须有就读证明材料）
-- fix.en: Apply for the child's resident ID (household registration) and enter it; until then explain and keep the proof of attendance.
-- fix.zh: 请尽快为学生办理户籍和身份证件并补录；在此之前请填写说明并留存就读证明。
-- version: 1
SELECT c.record_id, NULL::text AS school_code, 'id_type' AS field, c.id_type_raw AS value,
       NULL::text AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.id_type = 'Z';
