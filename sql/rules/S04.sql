-- id: S04
-- stage: 1
-- severity: error
-- fields: school_name, name, class_name, guardian_name, address, id_number, guardian_id_number
-- title.en: Value looks like a spreadsheet formula
-- title.zh: 填写内容像电子表格公式
-- fix.en: Type the value itself, not a formula: it must not start with = + - or @ (nor their full-width forms).
-- fix.zh: 请填写内容本身而不是公式：不能以 = + - @（或全角的 ＝ ＋ － ＠）开头。
-- why.en: A value that a spreadsheet runs as a formula can change or leak data when the file is opened, putting the children's data at risk.
-- why.zh: 被电子表格当作公式执行的内容，在打开文件时可能篡改或泄露数据，危及学生信息安全。
-- example.wrong: name: =HYPERLINK("http://example.invalid","李明")
-- example.right: name: 李明
-- example.wrong: address: +哈尔滨市道里区示例街1号
-- example.right: address: 哈尔滨市道里区示例街1号
-- example.wrong: guardian_name: @王芳
-- example.right: guardian_name: 王芳
-- explain: no
-- version: 2
-- A value that a spreadsheet program would take for a formula (FormulaText in StudentDataQuality.Core, docs/security.md):
-- its first character after leading white space (space, tab, CR, LF, U+00A0, U+3000) is = + - @ or a full-width
-- ＝ ＋ － ＠, or it starts with a tab, CR or LF. Such a value goes back to its school rather than into the registry.
-- The fields are those no other rule holds to a shape: the free text (school name, names, class, address) and the
-- ID numbers, which F02 leaves unjudged for an ID type of Z or outside the list. Codes, regions, dates, grades and the
-- student number and school code fail their own rules (F01, F06–F09); the phone is F11's (+86 is how it is written).
-- A value with a control character (a tab, CR or LF among them) is S02's, in the same stage: it is left to S02, so
-- that one bad value gives one finding.
-- Speed: ascii() of each field (its first code point, no regular expression) passes only the few records whose
-- value starts with one of the characters or with white space; only those are taken apart field by field.
SELECT c.record_id, NULL::text AS school_code, f.field, f.value, NULL::text AS detail, NULL::text AS severity
FROM   checked_record c
CROSS  JOIN LATERAL (VALUES ('school_name', c.school_name_raw),
                           ('name', c.name_raw),
                           ('class_name', c.class_name_raw),
                           ('guardian_name', c.guardian_name_raw),
                           ('address', c.address_raw),
                           ('id_number', c.id_number_raw),
                           ('guardian_id_number', c.guardian_id_number_raw)) AS f (field, value)
WHERE  c.round_id = @round_id
  AND  (   ascii(c.school_name_raw) IN (9, 10, 13, 32, 43, 45, 61, 64, 160, 12288, 65291, 65293, 65309, 65312)
        OR ascii(c.name_raw) IN (9, 10, 13, 32, 43, 45, 61, 64, 160, 12288, 65291, 65293, 65309, 65312)
        OR ascii(c.class_name_raw) IN (9, 10, 13, 32, 43, 45, 61, 64, 160, 12288, 65291, 65293, 65309, 65312)
        OR ascii(c.guardian_name_raw) IN (9, 10, 13, 32, 43, 45, 61, 64, 160, 12288, 65291, 65293, 65309, 65312)
        OR ascii(c.address_raw) IN (9, 10, 13, 32, 43, 45, 61, 64, 160, 12288, 65291, 65293, 65309, 65312)
        OR ascii(c.id_number_raw) IN (9, 10, 13, 32, 43, 45, 61, 64, 160, 12288, 65291, 65293, 65309, 65312)
        OR ascii(c.guardian_id_number_raw) IN (9, 10, 13, 32, 43, 45, 61, 64, 160, 12288, 65291, 65293, 65309, 65312))
  AND  f.value ~ '^([\t\r\n]|[ \t\r\n\u00a0\u3000]*[-=+@\uff0b\uff0d\uff1d\uff20])'
  -- S02's judgement of the text, noted when the version was written.
  AND  (c.bad_text_fields && ARRAY[f.field]) IS NOT TRUE;
