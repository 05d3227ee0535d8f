-- id: C08
-- stage: 3
-- severity: warning
-- fields: id_type, hmt_status, nationality
-- title.en: ID type disagrees with the Hong Kong/Macau/Taiwan/overseas status or the nationality
-- title.zh: 身份证件类型与港澳台侨外、国籍不一致
-- fix.en: Check the ID document: a resident ID card goes with Chinese nationality, a passport or permanent residence permit with a foreign one.
-- fix.zh: 请核对证件：居民身份证对应中国国籍；护照、永久居留证对应外国国籍；港澳台证件对应相应身份。
-- why.en: The ID type must fit the child's nationality and status, or the document cannot identify the child.
-- why.zh: 证件类型必须与学生国籍和港澳台侨身份相符，否则证件无法确认学生身份。
-- example.wrong: id_type 1 (resident ID), hmt_status 1 (Hong Kong)
-- example.right: id_type 6 with number H12345678, hmt_status 1
-- example.wrong: id_type 1 (resident ID), nationality USA
-- example.right: id_type A (passport), hmt_status 5, nationality USA
-- explain: no
-- version: 2
SELECT c.record_id, NULL::text AS school_code, 'id_type' AS field, c.id_type_raw AS value,
       c.hmt_status || '/' || c.nationality AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.id_type IS NOT NULL AND c.hmt_status IS NOT NULL AND c.nationality IS NOT NULL
  AND  NOT CASE c.id_type
           WHEN '1' THEN c.nationality = 'CHN' AND c.hmt_status IN ('0', '4')
           WHEN '6' THEN c.hmt_status = '1' AND c.nationality IN ('HKG', 'CHN')
           WHEN '7' THEN c.hmt_status = '2' AND c.nationality IN ('MAC', 'CHN')
           WHEN '8' THEN c.hmt_status = '3' AND c.nationality IN ('TWN', 'CHN')
           WHEN '9' THEN c.hmt_status = '5' AND c.nationality NOT IN ('CHN', 'HKG', 'MAC', 'TWN')
           WHEN 'A' THEN c.hmt_status = '5' AND c.nationality NOT IN ('CHN', 'HKG', 'MAC', 'TWN')
           ELSE true
       END;
