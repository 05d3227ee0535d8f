-- id: F03
-- stage: 2
-- severity: error
-- fields: id_number
-- title.en: Resident ID check character is wrong
-- title.zh: 身份证件号校验位错误
-- fix.en: Copy the number again from the ID card or household register; the last character is wrong.
-- fix.zh: 请对照身份证或户口簿重新填写，最后一位校验码不正确。
-- version: 2
-- A number padded by a spreadsheet (15 digits and 000) is F12's, not this rule's.
SELECT c.record_id, NULL::text AS school_code, 'id_number' AS field, c.id_number_raw AS value,
       'expected ' || quality.id_check_char(c.id_number) AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.id_type = '1'
  AND  NOT c.id_number_check_ok
  AND  right(c.id_number, 3) <> '000';
