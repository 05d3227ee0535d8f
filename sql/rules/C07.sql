-- id: C07
-- stage: 3
-- severity: error
-- fields: migrant_child, left_behind
-- title.en: Both a migrant worker's accompanying child and a left-behind child
-- title.zh: 同时为进城务工人员随迁子女和留守儿童
-- fix.en: A child who moved with its parents is not left behind: correct one of the two fields.
-- fix.zh: 随迁子女不是留守儿童，请改正其中一项。
-- version: 1
SELECT c.record_id, NULL::text AS school_code, 'left_behind' AS field, c.left_behind_raw AS value,
       NULL::text AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.migrant_child
  AND  c.left_behind IN ('1', '2');
