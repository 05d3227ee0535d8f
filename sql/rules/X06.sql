-- id: X06
-- stage: 4
-- severity: warning
-- fields: id_number, name, birth_date, guardian_phone
-- title.en: Possibly the same student twice: same name, birth date and guardian phone under different ID numbers
-- title.zh: 疑似重复学籍：姓名、出生日期、监护人电话相同但身份证件号不同
-- fix.en: Check whether these registrations (the schools are in the details) are the same child registered under two ID numbers. If so, keep the one with the right ID and remove the other; if not, confirm the finding.
-- fix.zh: 请核实这些学籍（学校见详情）是否为同一名学生以不同证件号重复注册。如是，保留证件号正确的一条、删除其余；如不是，请确认此提示。
-- version: 1
-- Rows with a valid ID (a resident ID as in X03, or another ID type of the form F02 asks), a valid name (F10), a
-- birth date in F06's window and a valid guardian phone (F11; a leading 86 of a 13-digit number dropped), grouped by
-- name + birth date + phone: every row of a group with two or more distinct ID numbers. Twins share birth date and
-- phone but not the name. detail names the schools of the other rows only.
WITH candidate AS (
    SELECT c.record_id, coalesce(c.school_code, c.school_code_raw) AS school_code, c.id_number, c.id_number_raw,
           btrim(c.name_raw, E' \t\r\n\u3000\u00a0') AS name, c.birth_date,
           CASE WHEN c.guardian_phone ~ '^86[0-9]{11}$' THEN substr(c.guardian_phone, 3) ELSE c.guardian_phone END AS phone
    FROM   checked_record c
    WHERE  c.round_id = @round_id
      AND  c.birth_date BETWEEN (@round_date - interval '25 years')::date AND (@round_date - interval '3 years')::date
      AND  c.guardian_phone IS NOT NULL
      AND  quality.id_valid(c.id_type, c.id_number)
),
valid AS (
    SELECT * FROM candidate
    WHERE  char_length(name) BETWEEN 2 AND 30
      AND  (name ~ '^[\u3400-\u4DBF\u4E00-\u9FFF]+(·[\u3400-\u4DBF\u4E00-\u9FFF]+)*$' OR name ~ '^[A-Za-z]+(·[A-Za-z]+)*$')
      AND  (phone ~ '^1[3-9][0-9]{9}$' OR phone ~ '^0[0-9]{2,3}[2-9][0-9]{6,7}$')
),
duplicate AS (
    SELECT array_agg(record_id) AS record_ids, array_agg(school_code) AS schools, array_agg(id_number_raw) AS raws
    FROM   valid
    GROUP  BY name, birth_date, phone
    HAVING count(DISTINCT id_number) >= 2
)
SELECT u.record_id, NULL::text AS school_code, 'id_number' AS field, u.value,
       (SELECT 'also at ' || string_agg(DISTINCT coalesce(o.code, '?') || coalesce(' ' || (SELECT min(btrim(s.school_name_raw, E' \t\r\n\u3000\u00a0')) FROM registry.school s WHERE s.round_id = @round_id AND s.school_code = o.code), ''), '; ')
        FROM   unnest(d.record_ids, d.schools) AS o (record_id, code)
        WHERE  o.record_id <> u.record_id) AS detail,
       NULL::text AS severity
FROM   duplicate d
CROSS  JOIN LATERAL unnest(d.record_ids, d.raws) AS u (record_id, value);
