-- id: F05
-- stage: 2
-- severity: warning
-- fields: id_number
-- title.en: Resident ID region code is not a current region
-- title.zh: 身份证件号地区码不是现行行政区划代码
-- fix.en: Check the number against the ID card. If it is copied correctly (IDs issued before a region was renamed or merged keep the old code), confirm it with a short explanation.
-- fix.zh: 请对照身份证核对号码；如抄录无误（行政区划调整前签发的证件保留旧地区码），请确认并简要说明。
-- why.en: A region code that no longer exists is often a typing error; an old but real code only needs to be confirmed so the ID is trusted.
-- why.zh: 已不存在的地区码常是录入错误；确属旧地区码的真实号码只需确认说明，证件号即可采信。
-- example.wrong: 230199201503040023 (230199 is no region: mistyped)
-- example.right: 230102201503040023
-- example.wrong: 230106201503040029 (230106 retired, copied correctly from the card)
-- example.right: 230106201503040029, confirmed: issued before the district was merged
-- explain: yes
-- version: 3
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
