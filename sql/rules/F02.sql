-- id: F02
-- stage: 2
-- severity: error
-- fields: id_number
-- title.en: ID number has the wrong shape for its ID type
-- title.zh: 身份证件号格式与证件类型不符
-- fix.en: Copy the number again from the ID document: a resident ID is 17 digits and a last digit or X; check that the ID type matches the document.
-- fix.zh: 请对照证件重新填写：居民身份证号为 17 位数字加 1 位数字或 X；并核对证件类型是否与证件一致。
-- why.en: An ID number of the wrong shape cannot identify the child, so duplicates and entitlements cannot be checked.
-- why.zh: 证件号格式错误就无法确认学生身份，也无法核查重复学籍和享受的资助。
-- example.wrong: id_type 1, 23010220150304002 (17 characters)
-- example.right: id_type 1, 230102201503040023
-- example.wrong: id_type 6, H1234567 (7 digits)
-- example.right: id_type 6, H12345678
-- example.wrong: id_type 1, 2301022015O304002 (letter O for a zero)
-- example.right: id_type 1, 230102201503040023
-- explain: no
-- version: 3
-- Shapes by id_type: 1 resident ID (a spreadsheet-mangled number is F12's), 6 H + 8 or 10 digits, 7 M + 8 or 10
-- digits, 8 8 or 10 digits, 9 three letters + 12 digits, A 5–17 letters or digits with at least one digit.
-- id_type Z needs no number; an id_type outside the list is F08's and leaves the number unjudged.
SELECT c.record_id, NULL::text AS school_code, 'id_number' AS field, c.id_number_raw AS value,
       CASE c.id_type WHEN '1' THEN 'expected 17 digits + digit or X'
                      WHEN '6' THEN 'expected H + 8 or 10 digits'
                      WHEN '7' THEN 'expected M + 8 or 10 digits'
                      WHEN '8' THEN 'expected 8 or 10 digits'
                      WHEN '9' THEN 'expected 3 letters + 12 digits'
                      ELSE 'expected 5–17 letters or digits'
       END AS detail,
       NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.id_number IS NOT NULL
  AND  CASE c.id_type
           WHEN '1' THEN c.id_number_check_ok IS NULL
                         AND c.id_number !~ '^[0-9](\.[0-9]+)?E\+?[0-9]{1,2}$'
           WHEN '6' THEN c.id_number !~ '^H[0-9]{8}([0-9]{2})?$'
           WHEN '7' THEN c.id_number !~ '^M[0-9]{8}([0-9]{2})?$'
           WHEN '8' THEN c.id_number !~ '^[0-9]{8}([0-9]{2})?$'
           WHEN '9' THEN c.id_number !~ '^[A-Z]{3}[0-9]{12}$'
           WHEN 'A' THEN c.id_number !~ '^[A-Z0-9]{5,17}$' OR c.id_number !~ '[0-9]'
           ELSE false
       END;
