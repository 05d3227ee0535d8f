-- id: F04
-- stage: 2
-- severity: error
-- fields: id_number
-- title.en: Resident ID birth segment is not a real date
-- title.zh: 身份证件号中的出生日期不存在
-- fix.en: Copy the number again from the ID card or household register; digits 7–14 (the birth date, YYYYMMDD) are not a real date.
-- fix.zh: 请对照身份证或户口簿重新填写，第 7–14 位（出生日期 YYYYMMDD）不是真实存在的日期。
-- version: 2
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
