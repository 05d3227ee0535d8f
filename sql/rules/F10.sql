-- id: F10
-- stage: 2
-- severity: error
-- fields: name, guardian_name
-- title.en: Name has characters a name cannot have
-- title.zh: 姓名含有非法字符
-- fix.en: Write the name exactly as on the household register: 2–30 Chinese characters, or Latin letters for a foreign name, with · between the parts of a minority or foreign name; no digits, spaces or symbols.
-- fix.zh: 请按户口簿填写姓名：2–30 个汉字，外籍学生可用拉丁字母；少数民族或外文姓名各部分之间用“·”分隔；不得含数字、空格或其他符号。
-- why.en: The name must match the household register exactly, or the child's certificates and transfers do not match the person.
-- why.zh: 姓名必须与户口簿完全一致，否则学生的证书和转学手续会与本人对不上。
-- example.wrong: name: 李 明 (a space inside)
-- example.right: name: 李明
-- example.wrong: name: 王小明2
-- example.right: name: 王小明
-- example.wrong: name: Zhang三
-- example.right: name: 张三
-- explain: no
-- version: 3
-- The trimmed name is 2–30 characters and either CJK ideographs only (U+3400–U+4DBF, U+4E00–U+9FFF) or Latin
-- letters only, in non-empty parts joined by a single · (U+00B7). Latin mixed into CJK, digits, inner spaces fail.
-- The shape was tested when the version was written (name_shape_ok, guardian_name_shape_ok: NULL for a blank name).
SELECT c.record_id, NULL::text AS school_code, f.field, f.value, NULL::text AS detail, NULL::text AS severity
FROM   checked_record c
CROSS  JOIN LATERAL (VALUES ('name', c.name_raw, c.name_shape_ok),
                           ('guardian_name', c.guardian_name_raw, c.guardian_name_shape_ok)) AS f (field, value, shape_ok)
WHERE  c.round_id = @round_id
  AND  (NOT c.name_shape_ok OR NOT c.guardian_name_shape_ok)
  AND  NOT f.shape_ok;
