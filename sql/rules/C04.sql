-- id: C04
-- stage: 3
-- severity: warning
-- fields: birth_date, grade
-- title.en: Age does not fit the grade (expected age on 1 September is grade + 5)
-- title.zh: 年龄与年级不符（9月1日应满年级+5周岁）
-- fix.en: Check the birth date and the grade; if both are right (a child who started late or skipped a grade), explain it.
-- fix.zh: 请核对出生日期和年级；如均无误（如延迟入学、跳级），请填写说明。
-- why.en: A child far from the usual age for the grade may have a wrong birth date or grade, or need support; a real case is explained.
-- why.zh: 年龄与年级明显不符，可能是出生日期或年级填错，也可能是需要关注的学生；属实的请说明。
-- example.wrong: grade 1, born 20130304 (age 13 on 1 September 2026)
-- example.right: grade 1, born 20200304 (age 6)
-- example.wrong: grade 7, born 20220101 (age 4 on 1 September 2026)
-- example.right: grade 7, born 20140101 (age 12)
-- example.wrong: grade 3, born 20170101, age 9 (started school two years late)
-- example.right: kept as it is, explained: started school late
-- explain: yes
-- version: 4
-- Off by 2 or 3 years is a warning, by 4 or more an error. A child born on 1 September has its birthday that day.
-- A row rule (sql/rules/README.md). The condition compares the birth date with two dates instead of working the age out
-- per row: the age on 1 September is k or more exactly when the child was born on or before 1 September k years
-- earlier, so "off by 2 or more" (age at least grade + 7, or at most grade + 3) is a birth date on or before 1 September
-- grade + 7 years back, or after 1 September grade + 4 years back. The age itself is worked out for the few failing rows.
SELECT c.record_id, NULL::text AS school_code, 'birth_date' AS field, c.birth_date_raw AS value,
       'age ' || (extract(year FROM @school_year_start::date)::int - extract(year FROM c.birth_date)::int
             - CASE WHEN to_char(c.birth_date, 'MMDD') > '0901' THEN 1 ELSE 0 END) || ' on ' || to_char(@school_year_start::date, 'YYYY-MM-DD') || ', grade ' || c.grade AS detail,
       CASE WHEN abs((extract(year FROM @school_year_start::date)::int - extract(year FROM c.birth_date)::int
             - CASE WHEN to_char(c.birth_date, 'MMDD') > '0901' THEN 1 ELSE 0 END) - (c.grade + 5)) >= 4 THEN 'error' ELSE 'warning' END AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.birth_date IS NOT NULL AND c.grade IS NOT NULL
  AND  (c.birth_date <= @school_year_start::date - make_interval(years => c.grade + 7)
        OR c.birth_date > @school_year_start::date - make_interval(years => c.grade + 4));
