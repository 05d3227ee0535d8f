-- id: C05
-- stage: 3
-- severity: error
-- fields: entry_month, birth_date
-- title.en: Entry month is before the age of three or after the round date
-- title.zh: 入学年月早于3周岁或晚于核查日期
-- fix.en: Correct the entry month (the month the student entered this school stage, YYYYMM).
-- fix.zh: 请改正入学年月（进入本学段的年月，格式YYYYMM）。
-- why.en: A child cannot enter school before the age of three or in the future; such an entry month was typed wrong.
-- why.zh: 学生不可能在3周岁前或在未来入学；这样的入学年月必定填写有误。
-- example.wrong: born 20150304, entry month 201709 (age 2)
-- example.right: born 20150304, entry month 202109
-- example.wrong: entry month 203009 (after the round date)
-- example.right: entry month 202409
-- explain: no
-- version: 2
SELECT c.record_id, NULL::text AS school_code, 'entry_month' AS field, c.entry_month_raw AS value,
       NULL::text AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.entry_month IS NOT NULL
  AND  ((c.birth_date IS NOT NULL AND c.entry_month < c.birth_date + interval '3 years') OR c.entry_month > @round_date::date);
