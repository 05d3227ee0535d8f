-- id: F03
-- stage: 2
-- severity: error
-- fields: id_number
-- title.en: Resident ID check character is wrong
-- title.zh: 身份证件号校验位错误
-- fix.en: Copy the number again from the ID card or household register; the last character is wrong.
-- fix.zh: 请对照身份证或户口簿重新填写，最后一位校验码不正确。
-- why.en: A wrong check character means the number was mistyped: it is some other person's number or nobody's.
-- why.zh: 校验位错误说明号码录入有误：它可能是别人的号码，或根本不存在。
-- example.wrong: 230102201503040020
-- example.right: 230102201503040023
-- example.wrong: 230103201607210012
-- example.right: 230103201607210011
-- explain: no
-- version: 3
-- A number padded by a spreadsheet (15 digits and 000) is F12's, not this rule's.
SELECT c.record_id, NULL::text AS school_code, 'id_number' AS field, c.id_number_raw AS value,
       'expected ' || quality.id_check_char(c.id_number) AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.id_type = '1'
  AND  NOT c.id_number_check_ok
  AND  right(c.id_number, 3) <> '000';
