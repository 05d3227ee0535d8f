-- id: F12
-- stage: 2
-- severity: error
-- fields: id_number
-- title.en: ID number was changed by a spreadsheet
-- title.zh: 身份证件号被电子表格篡改
-- fix.en: The spreadsheet turned the number into scientific notation or replaced its last digits with zeros. Format the cell as text, then type the full 18-character number again from the ID card.
-- fix.zh: 电子表格把号码变成了科学计数法或把末几位变成了 0。请先把单元格设为“文本”格式，再对照身份证重新录入完整的 18 位号码。
-- why.en: A number a spreadsheet has rounded or padded with zeros is no longer the child's ID, and the lost digits cannot be guessed.
-- why.zh: 被电子表格四舍五入或末位补零的号码已不是学生的证件号，丢失的数字无法推算。
-- example.wrong: 2.30102E+17
-- example.right: 230102201503040023
-- example.wrong: 230102201503040000 (last digits replaced by 000)
-- example.right: 230102201503040023
-- explain: no
-- version: 3
-- Scientific notation (2.30102E+17), or 15 digits padded with 000 whose check character is wrong (a real ID may
-- end in 000 with a right check character). F12 replaces F02 and F03 (and F04, F05) for these values.
SELECT c.record_id, NULL::text AS school_code, 'id_number' AS field, c.id_number_raw AS value,
       CASE WHEN c.id_number_check_ok IS NOT NULL THEN 'last digits replaced by 000' ELSE 'scientific notation' END AS detail,
       NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.id_type = '1'
  AND  ((strpos(c.id_number, 'E') > 0 AND c.id_number ~ '^[0-9](\.[0-9]+)?E\+?[0-9]{1,2}$')
        OR (NOT c.id_number_check_ok AND right(c.id_number, 3) = '000'));
