-- id: C01
-- stage: 3
-- severity: error
-- fields: birth_date, id_number
-- title.en: Birth date differs from the birth date in the resident ID number
-- title.zh: 出生日期与身份证件号中的出生日期不一致
-- fix.en: Check the household register: correct the birth date, or the ID number if it was mistyped.
-- fix.zh: 请对照户口簿核对：改正出生日期；若身份证件号录入有误，请改正身份证件号。
-- why.en: The birth date and the ID number describe the same child; when they disagree one of them is wrong and the child's age cannot be trusted.
-- why.zh: 出生日期和身份证件号说的是同一名学生；两者不一致说明其中一项有误，学生年龄无法采信。
-- example.wrong: birth_date 20150403, ID 230102201503040023
-- example.right: birth_date 20150304, ID 230102201503040023
-- example.wrong: birth_date 20160721, ID 230102201503040023
-- example.right: birth_date 20150304, ID 230102201503040023
-- explain: no
-- version: 3
-- Only a valid resident ID (it passed stage 2) and a birth date that passed stage 2 are compared.
SELECT c.record_id, NULL::text AS school_code, 'birth_date' AS field, c.birth_date_raw AS value,
       'ID number says ' || to_char(c.id_number_birth, 'YYYY-MM-DD') AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.id_type = '1' AND c.id_number IS NOT NULL
  AND  c.birth_date IS NOT NULL
  AND  c.birth_date <> c.id_number_birth;
