-- id: X06
-- stage: 4
-- severity: warning
-- fields: id_number, name, birth_date, guardian_phone
-- title.en: Possibly the same student twice: same name, birth date and guardian phone under different ID numbers
-- title.zh: 疑似重复学籍：姓名、出生日期、监护人电话相同但身份证件号不同
-- fix.en: Check whether these registrations (the schools are in the details) are the same child registered under two ID numbers. If so, keep the one with the right ID and remove the other; if not, confirm the finding.
-- fix.zh: 请核实这些学籍（学校见详情）是否为同一名学生以不同证件号重复注册。如是，保留证件号正确的一条、删除其余；如不是，请确认此提示。
-- why.en: The same name, birth date and guardian phone under two ID numbers is probably one child registered twice; real namesakes are confirmed.
-- why.zh: 姓名、出生日期、监护人电话相同而证件号不同，很可能是同一学生重复注册；确为不同学生的请确认。
-- example.wrong: 李明, 20150304, 13912345678 with 230102201503040023 and 230103201503040011
-- example.right: one registration, with the ID number on the child's card
-- example.wrong: 张伟, 20150304, 13912345678 with two IDs: cousins sharing a grandmother's phone
-- example.right: both kept, confirmed: two different children
-- explain: yes
-- version: 4
-- partners: name, birth_date
-- Rows with an ID (a resident ID as in X03, or another ID type of the form F02 asks), a name, a birth date and a
-- guardian phone (a leading 86 of a 13-digit number dropped), all present: by stage 4 values that failed F02/F03/F04/
-- F12, F10, F06 and F11 are hidden. Grouped by name + birth date + phone: every row of a group with two or more
-- distinct ID numbers. Twins share birth date and phone but not the name. detail names the schools of the other rows only.
WITH candidate AS (
    SELECT c.record_id, coalesce(c.school_code, c.school_code_raw) AS school_code, c.id_number, c.id_number_raw,
           c.name, c.birth_date,
           CASE WHEN octet_length(c.guardian_phone) = 13 AND left(c.guardian_phone, 2) = '86' THEN substr(c.guardian_phone, 3) ELSE c.guardian_phone END AS phone
    FROM   checked_record c
    WHERE  c.round_id = @round_id
      AND  c.birth_date IS NOT NULL
      AND  c.guardian_phone IS NOT NULL
      AND  c.name <> ''
      AND  c.id_type IN ('1', '6', '7', '8', '9', 'A') AND c.id_number IS NOT NULL
),
duplicate_key AS (
    -- The keys held by two rows or more first (count only: min and max of text over the whole round cost 10-20 % of
    -- the rule), then the rows of those few keys, grouped again to keep the groups the rule is about: carrying every
    -- row's values through the grouping of the round cost more.
    SELECT name, birth_date, phone FROM candidate GROUP BY name, birth_date, phone HAVING count(*) >= 2
),
duplicate AS (
    SELECT array_agg(c.record_id) AS record_ids, array_agg(c.school_code) AS schools, array_agg(c.id_number_raw) AS raws
    FROM   candidate c
    JOIN   duplicate_key k ON k.name = c.name AND k.birth_date = c.birth_date AND k.phone = c.phone
    GROUP  BY c.name, c.birth_date, c.phone
    HAVING min(c.id_number) <> max(c.id_number)
)
SELECT u.record_id, NULL::text AS school_code, 'id_number' AS field, u.value,
       (SELECT 'also at ' || string_agg(DISTINCT coalesce(o.code, '?') || coalesce(' ' || (SELECT min(btrim(s.school_name_raw, E' \t\r\n\u3000\u00a0')) FROM registry.school s WHERE s.round_id = @round_id AND s.school_code = o.code), ''), '; ')
        FROM   unnest(d.record_ids, d.schools) AS o (record_id, code)
        WHERE  o.record_id <> u.record_id) AS detail,
       NULL::text AS severity
FROM   duplicate d
CROSS  JOIN LATERAL unnest(d.record_ids, d.raws) AS u (record_id, value);
