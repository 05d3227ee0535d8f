-- id: F01
-- stage: 2
-- severity: error
-- fields: student_no
-- title.en: Student number is not G, L or J followed by 18 characters
-- title.zh: 学籍号格式错误
-- fix.en: Copy the student number again from the national registration system: one letter G, L or J followed by 18 digits or capital letters.
-- fix.zh: 请从全国学籍系统重新抄录学籍号：G、L 或 J 开头，后跟 18 位数字或大写字母。
-- version: 3
SELECT c.record_id, NULL::text AS school_code, 'student_no' AS field, c.student_no_raw AS value,
       'expected G, L or J + 18 characters' AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.student_no IS NOT NULL
  -- ^[GLJ][0-9A-Z]{18}$, tested when the version was written (student_no_shape_ok).
  AND  NOT c.student_no_shape_ok;
