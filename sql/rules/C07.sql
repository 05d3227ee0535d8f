-- id: C07
-- stage: 3
-- severity: error
-- fields: migrant_child, left_behind
-- title.en: Both a migrant worker's accompanying child and a left-behind child
-- title.zh: 同时为进城务工人员随迁子女和留守儿童
-- fix.en: A child who moved with its parents is not left behind: correct one of the two fields.
-- fix.zh: 随迁子女不是留守儿童，请改正其中一项。
-- why.en: A child who moved with its parents is not left behind; the two count in different support programmes, so one value is wrong.
-- why.zh: 随迁子女不是留守儿童；两者对应不同的关爱和资助政策，其中一项必定有误。
-- example.wrong: migrant_child 1, left_behind 2
-- example.right: migrant_child 1, left_behind 0
-- example.wrong: migrant_child 1, left_behind 1 (the child stayed with grandparents)
-- example.right: migrant_child 0, left_behind 1
-- explain: no
-- version: 2
SELECT c.record_id, NULL::text AS school_code, 'left_behind' AS field, c.left_behind_raw AS value,
       NULL::text AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.migrant_child
  AND  c.left_behind IN ('1', '2');
