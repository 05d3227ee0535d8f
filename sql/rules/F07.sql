-- id: F07
-- stage: 2
-- severity: error
-- fields: entry_month
-- title.en: Entry month is not a real year and month
-- title.zh: 入学年月格式错误
-- fix.en: Enter the year and month the student entered this stage of school as YYYYMM, e.g. 202409.
-- fix.zh: 请按 YYYYMM 格式填写入学年月，例如 202409。
-- why.en: The entry month shows when the child entered the school stage; without a real year and month the child's progress cannot be followed.
-- why.zh: 入学年月反映学生进入本学段的时间；不是真实的年月就无法跟踪学生的学业进程。
-- example.wrong: 202413
-- example.right: 202409
-- example.wrong: 2024年13月
-- example.right: 2024年9月
-- example.wrong: 秋季
-- example.right: 202409
-- explain: no
-- version: 2
-- Typed entry_month is NULL when the text is not YYYYMM, YYYY-MM, YYYY/MM, YYYY年M月 (or a whole date) with a
-- month 1–12.
SELECT c.record_id, NULL::text AS school_code, 'entry_month' AS field, c.entry_month_raw AS value,
       'expected YYYYMM' AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  btrim(c.entry_month_raw, E' \t\r\n\u3000\u00a0') <> ''
  AND  c.entry_month IS NULL;
