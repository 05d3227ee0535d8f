-- The input of the checks after a stage: the round's current records with every value that failed an error rule
-- of an earlier stage set to NULL, so that one bad value gives one finding, not a cascade. The (record, field) pairs
-- that failed so far are the check run's rows of quality.check_failed_field (the run is the session setting
-- sdq.check_run, set by the runner); the runner adds them after stages 1 and 2, and copies them to each of its other
-- connections (CheckRunner: rule queries on several connections at once). checked_source is the round's current
-- records (registry.current_record), or in a re-check those of the rule's scope (CheckRunner); columns are those of
-- registry.current_record.
-- Two branches: the records with no failed value, as they are, and the few with one, with those values hidden. Had
-- every record gone through the CASE columns, the planner could not estimate any condition on them and took the
-- round for a few hundred rows (sorting where it should hash, looping where it should join). The few are copied once
-- per stage into the scratch table hidden_record (the runner refreshes it from hidden_source after stages 1 and 2):
-- read through a join in every rule's query, they cost every rule of stages 3 to 5 a second scan of the round, and
-- looked up by key in a lateral subquery they forced a nested loop where the runner turns them off, whose penalty
-- cost misled every plan around it (T01 took 50 s instead of 3).
-- The copy itself looks each of the few records up by its id (a lateral subquery: the index of each round's records
-- over a whole round, that of the scope's copy in a re-check): joined by hashing, it read every round in the database
-- (1.6 s a copy on two rounds of 1,000,000 records, a copy per connection after stages 1 and 2).
-- The records with no failed value are those NOT IN the run's set: a hashed subplan, tested as the round is scanned;
-- as an anti-join (NOT EXISTS) the same test cost every rule a join node over the round (F08 2.2 s against 1.5 s on
-- 1,000,000 records). record_id is never NULL there, so NOT IN means what NOT EXISTS did.
-- The rules read checked_record: over a whole round the view of the same name over checked_input; in a re-check a
-- scratch table filled from checked_input at the first stage and after each stage that sets values aside (a few
-- thousand records, read by every rule of the stage).
CREATE TEMP VIEW hidden_source AS
SELECT r.round_id, r.record_id, r.version, r.file_id, r.sheet_no, r.row_no,
       CASE WHEN f.fields @> '{student_no}' THEN NULL ELSE r.student_no_raw END AS student_no_raw,
       CASE WHEN f.fields @> '{student_no}' THEN NULL ELSE r.student_no END AS student_no,
       CASE WHEN f.fields @> '{school_code}' THEN NULL ELSE r.school_code_raw END AS school_code_raw,
       CASE WHEN f.fields @> '{school_code}' THEN NULL ELSE r.school_code END AS school_code,
       CASE WHEN f.fields @> '{school_name}' THEN NULL ELSE r.school_name_raw END AS school_name_raw,
       CASE WHEN f.fields @> '{school_name}' THEN NULL ELSE r.school_name END AS school_name,
       CASE WHEN f.fields @> '{name}' THEN NULL ELSE r.name_raw END AS name_raw,
       CASE WHEN f.fields @> '{name}' THEN NULL ELSE r.name END AS name,
       CASE WHEN f.fields @> '{gender}' THEN NULL ELSE r.gender_raw END AS gender_raw,
       CASE WHEN f.fields @> '{gender}' THEN NULL ELSE r.gender END AS gender,
       CASE WHEN f.fields @> '{birth_date}' THEN NULL ELSE r.birth_date_raw END AS birth_date_raw,
       CASE WHEN f.fields @> '{birth_date}' THEN NULL ELSE r.birth_date END AS birth_date,
       CASE WHEN f.fields @> '{birthplace}' THEN NULL ELSE r.birthplace_raw END AS birthplace_raw,
       CASE WHEN f.fields @> '{birthplace}' THEN NULL ELSE r.birthplace END AS birthplace,
       CASE WHEN f.fields @> '{nationality}' THEN NULL ELSE r.nationality_raw END AS nationality_raw,
       CASE WHEN f.fields @> '{nationality}' THEN NULL ELSE r.nationality END AS nationality,
       CASE WHEN f.fields @> '{ethnicity}' THEN NULL ELSE r.ethnicity_raw END AS ethnicity_raw,
       CASE WHEN f.fields @> '{ethnicity}' THEN NULL ELSE r.ethnicity END AS ethnicity,
       CASE WHEN f.fields @> '{id_type}' THEN NULL ELSE r.id_type_raw END AS id_type_raw,
       CASE WHEN f.fields @> '{id_type}' THEN NULL ELSE r.id_type END AS id_type,
       CASE WHEN f.fields @> '{id_number}' THEN NULL ELSE r.id_number_raw END AS id_number_raw,
       CASE WHEN f.fields @> '{id_number}' THEN NULL ELSE r.id_number END AS id_number,
       CASE WHEN f.fields @> '{hmt_status}' THEN NULL ELSE r.hmt_status_raw END AS hmt_status_raw,
       CASE WHEN f.fields @> '{hmt_status}' THEN NULL ELSE r.hmt_status END AS hmt_status,
       CASE WHEN f.fields @> '{household_region}' THEN NULL ELSE r.household_region_raw END AS household_region_raw,
       CASE WHEN f.fields @> '{household_region}' THEN NULL ELSE r.household_region END AS household_region,
       CASE WHEN f.fields @> '{household_type}' THEN NULL ELSE r.household_type_raw END AS household_type_raw,
       CASE WHEN f.fields @> '{household_type}' THEN NULL ELSE r.household_type END AS household_type,
       CASE WHEN f.fields @> '{grade}' THEN NULL ELSE r.grade_raw END AS grade_raw,
       CASE WHEN f.fields @> '{grade}' THEN NULL ELSE r.grade END AS grade,
       CASE WHEN f.fields @> '{class_name}' THEN NULL ELSE r.class_name_raw END AS class_name_raw,
       CASE WHEN f.fields @> '{class_name}' THEN NULL ELSE r.class_name END AS class_name,
       CASE WHEN f.fields @> '{entry_month}' THEN NULL ELSE r.entry_month_raw END AS entry_month_raw,
       CASE WHEN f.fields @> '{entry_month}' THEN NULL ELSE r.entry_month END AS entry_month,
       CASE WHEN f.fields @> '{study_mode}' THEN NULL ELSE r.study_mode_raw END AS study_mode_raw,
       CASE WHEN f.fields @> '{study_mode}' THEN NULL ELSE r.study_mode END AS study_mode,
       CASE WHEN f.fields @> '{only_child}' THEN NULL ELSE r.only_child_raw END AS only_child_raw,
       CASE WHEN f.fields @> '{only_child}' THEN NULL ELSE r.only_child END AS only_child,
       CASE WHEN f.fields @> '{migrant_child}' THEN NULL ELSE r.migrant_child_raw END AS migrant_child_raw,
       CASE WHEN f.fields @> '{migrant_child}' THEN NULL ELSE r.migrant_child END AS migrant_child,
       CASE WHEN f.fields @> '{left_behind}' THEN NULL ELSE r.left_behind_raw END AS left_behind_raw,
       CASE WHEN f.fields @> '{left_behind}' THEN NULL ELSE r.left_behind END AS left_behind,
       CASE WHEN f.fields @> '{disability}' THEN NULL ELSE r.disability_raw END AS disability_raw,
       CASE WHEN f.fields @> '{disability}' THEN NULL ELSE r.disability END AS disability,
       CASE WHEN f.fields @> '{guardian_name}' THEN NULL ELSE r.guardian_name_raw END AS guardian_name_raw,
       CASE WHEN f.fields @> '{guardian_name}' THEN NULL ELSE r.guardian_name END AS guardian_name,
       CASE WHEN f.fields @> '{guardian_relation}' THEN NULL ELSE r.guardian_relation_raw END AS guardian_relation_raw,
       CASE WHEN f.fields @> '{guardian_relation}' THEN NULL ELSE r.guardian_relation END AS guardian_relation,
       CASE WHEN f.fields @> '{guardian_phone}' THEN NULL ELSE r.guardian_phone_raw END AS guardian_phone_raw,
       CASE WHEN f.fields @> '{guardian_phone}' THEN NULL ELSE r.guardian_phone END AS guardian_phone,
       CASE WHEN f.fields @> '{guardian_id_number}' THEN NULL ELSE r.guardian_id_number_raw END AS guardian_id_number_raw,
       CASE WHEN f.fields @> '{guardian_id_number}' THEN NULL ELSE r.guardian_id_number END AS guardian_id_number,
       CASE WHEN f.fields @> '{address}' THEN NULL ELSE r.address_raw END AS address_raw,
       CASE WHEN f.fields @> '{address}' THEN NULL ELSE r.address END AS address,
       r.extra_raw,
       r.normalised,
       CASE WHEN f.fields @> '{id_number}' THEN NULL ELSE r.id_number_check_ok END AS id_number_check_ok,
       CASE WHEN f.fields @> '{id_number}' THEN NULL ELSE r.id_number_birth END AS id_number_birth,
       CASE WHEN f.fields @> '{guardian_id_number}' THEN NULL ELSE r.guardian_id_check_ok END AS guardian_id_check_ok,
       CASE WHEN f.fields @> '{guardian_id_number}' THEN NULL ELSE r.guardian_id_birth END AS guardian_id_birth,
       r.blank_fields,
       r.bad_text_fields,
       CASE WHEN f.fields @> '{student_no}' THEN NULL ELSE r.student_no_shape_ok END AS student_no_shape_ok,
       CASE WHEN f.fields @> '{school_code}' THEN NULL ELSE r.school_code_shape_ok END AS school_code_shape_ok,
       CASE WHEN f.fields @> '{name}' THEN NULL ELSE r.name_shape_ok END AS name_shape_ok,
       CASE WHEN f.fields @> '{guardian_name}' THEN NULL ELSE r.guardian_name_shape_ok END AS guardian_name_shape_ok,
       CASE WHEN f.fields @> '{guardian_phone}' THEN NULL ELSE r.guardian_phone_ok END AS guardian_phone_ok
FROM   (SELECT record_id, array_agg(field) AS fields FROM quality.check_failed_field
        WHERE run_id = current_setting('sdq.check_run')::bigint GROUP BY record_id) f
CROSS  JOIN LATERAL (SELECT * FROM checked_source r WHERE r.record_id = f.record_id OFFSET 0) r;

CREATE TEMP TABLE hidden_record ON COMMIT DROP AS SELECT * FROM hidden_source WITH NO DATA;

CREATE TEMP VIEW checked_input AS
SELECT r.round_id, r.record_id, r.version, r.file_id, r.sheet_no, r.row_no,
       r.student_no_raw,
       r.student_no,
       r.school_code_raw,
       r.school_code,
       r.school_name_raw,
       r.school_name,
       r.name_raw,
       r.name,
       r.gender_raw,
       r.gender,
       r.birth_date_raw,
       r.birth_date,
       r.birthplace_raw,
       r.birthplace,
       r.nationality_raw,
       r.nationality,
       r.ethnicity_raw,
       r.ethnicity,
       r.id_type_raw,
       r.id_type,
       r.id_number_raw,
       r.id_number,
       r.hmt_status_raw,
       r.hmt_status,
       r.household_region_raw,
       r.household_region,
       r.household_type_raw,
       r.household_type,
       r.grade_raw,
       r.grade,
       r.class_name_raw,
       r.class_name,
       r.entry_month_raw,
       r.entry_month,
       r.study_mode_raw,
       r.study_mode,
       r.only_child_raw,
       r.only_child,
       r.migrant_child_raw,
       r.migrant_child,
       r.left_behind_raw,
       r.left_behind,
       r.disability_raw,
       r.disability,
       r.guardian_name_raw,
       r.guardian_name,
       r.guardian_relation_raw,
       r.guardian_relation,
       r.guardian_phone_raw,
       r.guardian_phone,
       r.guardian_id_number_raw,
       r.guardian_id_number,
       r.address_raw,
       r.address,
       r.extra_raw,
       r.normalised,
       r.id_number_check_ok,
       r.id_number_birth,
       r.guardian_id_check_ok,
       r.guardian_id_birth,
       r.blank_fields,
       r.bad_text_fields,
       r.student_no_shape_ok,
       r.school_code_shape_ok,
       r.name_shape_ok,
       r.guardian_name_shape_ok,
       r.guardian_phone_ok
FROM   checked_source r
WHERE  r.record_id NOT IN (SELECT f.record_id FROM quality.check_failed_field f
                          WHERE f.run_id = current_setting('sdq.check_run')::bigint)
UNION ALL
SELECT * FROM hidden_record;
