-- id: F05
-- stage: 2
-- severity: warning
-- fields: id_number
-- title.en: Resident ID region code is not a current region
-- title.zh: 身份证件号地区码不是现行行政区划代码
-- fix.en: Check the number against the ID card. If it is copied correctly (IDs issued before a region was renamed or merged keep the old code), confirm it with a short explanation.
-- fix.zh: 请对照身份证核对号码；如抄录无误（行政区划调整前签发的证件保留旧地区码），请确认并简要说明。
-- version: 2
-- invalidates: no
-- A retired code is a warning, not an error: the ID stays valid for the consistency and cross-record rules.
-- Judged on every number of the right shape, whatever F03 and F04 say; F12's numbers are not judged.
SELECT c.record_id, NULL::text AS school_code, 'id_number' AS field, c.id_number_raw AS value,
       'region ' || substr(c.id_number, 1, 6) AS detail, NULL::text AS severity
FROM   checked_record c
LEFT   JOIN reference.region r ON r.code = substr(c.id_number, 1, 6)
WHERE  c.round_id = @round_id
  AND  c.id_type = '1'
  AND  c.id_number_check_ok IS NOT NULL
  AND  r.code IS NULL
  AND  (right(c.id_number, 3) <> '000' OR c.id_number_check_ok);
