-- id: C05
-- stage: 3
-- severity: error
-- fields: entry_month, birth_date
-- title.en: Entry month is before the age of three or after the round date
-- title.zh: 入学年月早于3周岁或晚于核查日期
-- fix.en: Correct the entry month (the month the student entered this school stage, YYYYMM).
-- fix.zh: 请改正入学年月（进入本学段的年月，格式YYYYMM）。
-- version: 1
SELECT c.record_id, NULL::text AS school_code, 'entry_month' AS field, c.entry_month_raw AS value,
       NULL::text AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.entry_month IS NOT NULL
  AND  ((c.birth_date IS NOT NULL AND c.entry_month < c.birth_date + interval '3 years') OR c.entry_month > @round_date::date);
