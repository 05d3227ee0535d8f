-- id: C06
-- stage: 3
-- severity: warning
-- fields: entry_month, grade
-- title.en: Entry month does not fit the grade (entry year of the current school stage)
-- title.zh: 入学年月与年级不符（应为本学段入学年份）
-- fix.en: Check the entry month and the grade; if the student repeated or skipped a year, explain it.
-- fix.zh: 请核对入学年月和年级；如有留级、跳级，请填写说明。
-- why.en: The entry month and the grade together show the child's path through the stage; a mismatch is a typing error or a repeated or skipped year.
-- why.zh: 入学年月与年级共同反映学生的学段进程；不一致可能是录入错误，也可能是留级或跳级。
-- example.wrong: grade 3 in school year 2026–27, entry month 202609
-- example.right: grade 3, entry month 202409
-- example.wrong: grade 8 in school year 2026–27, entry month 202109
-- example.right: grade 8, entry month 202509
-- example.wrong: grade 4, entry month 202209 (repeated grade 2)
-- example.right: kept as it is, explained: repeated a year
-- explain: yes
-- version: 3
-- The stage starts at grade 1 (primary), 7 (junior secondary) or 10 (senior secondary); school years start in September.
-- The school year an entry month falls in is the calendar year of the month eight months earlier (September is January):
-- date_part, a float, per row rather than extract, a numeric, which costs a second per 3,000,000 records.
SELECT c.record_id, NULL::text AS school_code, 'entry_month' AS field, c.entry_month_raw AS value,
       'expected entry in ' || (extract(year FROM @school_year_start::date)::int
                               - (c.grade - CASE WHEN c.grade <= 6 THEN 1 WHEN c.grade <= 9 THEN 7 ELSE 10 END)) AS detail,
       NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.entry_month IS NOT NULL AND c.grade IS NOT NULL
  AND  date_part('year', c.entry_month - interval '8 months')::int
       <> extract(year FROM @school_year_start::date)::int - (c.grade - CASE WHEN c.grade <= 6 THEN 1 WHEN c.grade <= 9 THEN 7 ELSE 10 END);
