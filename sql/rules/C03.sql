-- id: C03
-- stage: 3
-- severity: warning
-- fields: student_no, id_number
-- title.en: Permanent student number (G) does not match the ID number (person and registration differ)
-- title.zh: 学籍号（G字头）与身份证件号不一致（人籍不一致）
-- fix.en: If the ID number was changed, explain it with the record of the change; otherwise correct the ID number.
-- fix.zh: 如身份证件号曾变更，请说明并提供变更证明；否则请改正身份证件号。
-- why.en: A permanent student number is made from the child's ID; a mismatch means the registration may belong to another person.
-- why.zh: G字头学籍号由学生身份证件号生成；不一致说明这条学籍可能属于另一个人。
-- example.wrong: G230103201607210011 with ID 230102201503040023 (ID mistyped)
-- example.right: G230103201607210011 with ID 230103201607210011
-- example.wrong: G230102201502280025 with ID 230102201503040023 (the ID was changed)
-- example.right: kept as it is, explained with the record of the ID change
-- explain: yes
-- version: 3
-- The number is compared whole ('G' and the ID) rather than cut: cutting text counts its characters, per row.
SELECT c.record_id, NULL::text AS school_code, 'student_no' AS field, c.student_no_raw AS value,
       NULL::text AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.student_no LIKE 'G%'
  AND  c.id_type = '1' AND c.id_number IS NOT NULL
  AND  c.student_no <> 'G' || c.id_number;
