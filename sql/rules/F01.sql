-- id: F01
-- stage: 2
-- severity: error
-- fields: student_no
-- title.en: Student number is not G, L or J followed by 18 characters
-- title.zh: 学籍号格式错误
-- fix.en: Copy the student number again from the national registration system: one letter G, L or J followed by 18 digits or capital letters.
-- fix.zh: 请从全国学籍系统重新抄录学籍号：G、L 或 J 开头，后跟 18 位数字或大写字母。
-- why.en: The student number follows the child through every school; a wrong one breaks the link to the national registration.
-- why.zh: 学籍号伴随学生终身使用；格式错误会使本校记录与全国学籍系统无法对应。
-- example.wrong: G23010220150304002 (17 characters after G)
-- example.right: G230102201503040023
-- example.wrong: 230102201503040023 (no letter)
-- example.right: G230102201503040023
-- example.wrong: K230102201503040023
-- example.right: G230102201503040023
-- explain: no
-- version: 4
SELECT c.record_id, NULL::text AS school_code, 'student_no' AS field, c.student_no_raw AS value,
       'expected G, L or J + 18 characters' AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.student_no IS NOT NULL
  -- ^[GLJ][0-9A-Z]{18}$, tested when the version was written (student_no_shape_ok).
  AND  NOT c.student_no_shape_ok;
