-- id: F06
-- stage: 2
-- severity: error
-- fields: birth_date
-- title.en: Birth date is not a real date or not a plausible age
-- title.zh: 出生日期不存在或不在合理范围内
-- fix.en: Enter the birth date from the household register as YYYYMMDD; a student is 3 to 25 years old on the round date.
-- fix.zh: 请对照户口簿填写正确的出生日期（格式：YYYYMMDD），学生在核查基准日应为 3 至 25 周岁。
-- why.en: The birth date decides the child's grade, age checks and entitlements; an impossible or implausible date makes them all wrong.
-- why.zh: 出生日期决定年级、年龄核查和相关资助；不存在或不合理的日期会使这些全部出错。
-- example.wrong: 20150230 (30 February)
-- example.right: 20150228
-- example.wrong: 20250304 (a child of one year)
-- example.right: 20150304
-- example.wrong: 九月一日 (no year)
-- example.right: 20150901
-- explain: no
-- version: 2
-- Not a date (typed birth_date NULL: 30 February, 29 February of a common year, month 13), or outside
-- [round date − 25 years, round date − 3 years], both ends included.
SELECT c.record_id, NULL::text AS school_code, 'birth_date' AS field, c.birth_date_raw AS value,
       CASE WHEN c.birth_date IS NULL THEN 'not a date'
            ELSE 'expected ' || to_char(@round_date - interval '25 years', 'YYYY-MM-DD') || ' to '
                 || to_char(@round_date - interval '3 years', 'YYYY-MM-DD')
       END AS detail,
       NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  btrim(c.birth_date_raw, E' \t\r\n\u3000\u00a0') <> ''
  AND  (c.birth_date IS NULL
        OR c.birth_date < (@round_date - interval '25 years')::date
        OR c.birth_date > (@round_date - interval '3 years')::date);
