-- id: F09
-- stage: 2
-- severity: error
-- fields: school_code
-- title.en: School code is not 10 digits of this province
-- title.zh: 学校标识码格式错误
-- fix.en: Enter the school's 10-digit identification code as issued; digits 3–4 are the province code (23 for Heilongjiang).
-- fix.zh: 请填写本校 10 位学校标识码；第 3–4 位为省份代码（黑龙江为 23）。
-- why.en: The school code places the child at the right school in the province; a wrong code puts the child at no school or another one.
-- why.zh: 学校标识码把学生归入全省正确的学校；标识码错误会使学生无校可归或被归入他校。
-- example.wrong: 212300001 (9 digits)
-- example.right: 2123000001
-- example.wrong: 2122000001 (province 22)
-- example.right: 2123000001
-- example.wrong: 21230O0001 (letter O for a zero)
-- example.right: 2123000001
-- explain: no
-- version: 4
SELECT c.record_id, NULL::text AS school_code, 'school_code' AS field, c.school_code_raw AS value,
       'expected 10 digits, province ' || @province AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.school_code IS NOT NULL
  -- Ten digits, tested when the version was written (school_code_shape_ok); the province is the deployment's.
  AND  NOT (c.school_code_shape_ok AND substr(c.school_code, 3, 2) = @province);
