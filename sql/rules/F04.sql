-- id: F04
-- stage: 2
-- severity: error
-- fields: id_number
-- title.en: Resident ID birth segment is not a real date
-- title.zh: 身份证件号中的出生日期不存在
-- fix.en: Copy the number again from the ID card or household register; digits 7–14 (the birth date, YYYYMMDD) are not a real date.
-- fix.zh: 请对照身份证或户口簿重新填写，第 7–14 位（出生日期 YYYYMMDD）不是真实存在的日期。
-- why.en: An ID number whose birth segment is not a real date was mistyped and cannot be the child's.
-- why.zh: 出生日期段不存在的证件号必定录入有误，不可能是该学生的号码。
-- example.wrong: 230102201513040027 (month 13)
-- example.right: 230102201503040023
-- example.wrong: 230102201502300022 (30 February)
-- example.right: 230102201502280025
-- explain: no
-- version: 3
-- Judged independently of F03 (a number can have both). A number padded by a spreadsheet (15 digits and 000 with a
-- wrong check character) is F12's.
SELECT c.record_id, NULL::text AS school_code, 'id_number' AS field, c.id_number_raw AS value,
       'birth segment ' || substr(c.id_number, 7, 8) AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.id_type = '1'
  AND  c.id_number_check_ok IS NOT NULL
  AND  c.id_number_birth IS NULL
  AND  (right(c.id_number, 3) <> '000' OR c.id_number_check_ok);
