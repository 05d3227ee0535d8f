-- 0003 check inputs, worked out once when a record version is written instead of by every rule that reads it:
-- which version of a record is current, and what a resident ID number says about itself (by the program, like the
-- typed values). Re-deriving the check character in SQL cost about 6 s per million records per rule (17 substrings
-- and casts per row); the staged columns cost nothing to read. The quality.id_* functions stay for the few values
-- the rules describe (the expected character).

ALTER TABLE registry.record_version
    ADD COLUMN id_number_check_ok    boolean,
    ADD COLUMN id_number_birth       date,
    ADD COLUMN guardian_id_check_ok  boolean,
    ADD COLUMN guardian_id_birth     date;

COMMENT ON COLUMN registry.record_version.id_number_check_ok IS
    'NULL unless id_number has the resident-ID shape (17 digits and a digit or X); then whether its check character is right.';
COMMENT ON COLUMN registry.record_version.id_number_birth IS
    'The birth segment of id_number as a real date (NULL when it has not the resident-ID shape or is no calendar date).';
COMMENT ON COLUMN registry.record_version.guardian_id_check_ok IS 'As id_number_check_ok, for guardian_id_number.';
COMMENT ON COLUMN registry.record_version.guardian_id_birth IS 'As id_number_birth, for guardian_id_number.';

-- Whether a version is its record's current one, kept beside record_head by whatever writes a new version. The view
-- of current records filters on it: the planner estimates that well, where "version = coalesce(head's version, 1)"
-- over an outer join made it take a round of a million records for a few thousand rows (and sort, and loop).
ALTER TABLE registry.record_version ADD COLUMN is_current boolean NOT NULL DEFAULT true;
UPDATE registry.record_version v
SET    is_current = false
FROM   registry.record_head h
WHERE  h.round_id = v.round_id AND h.record_id = v.record_id AND v.version <> h.current_version;

-- Versions written before this migration get their facts from the same definitions in SQL.
UPDATE registry.record_version
SET    id_number_check_ok = CASE WHEN quality.id_shape_ok(id_number) THEN quality.id_check_ok(id_number) END,
       id_number_birth = quality.id_birth_date(id_number),
       guardian_id_check_ok = CASE WHEN quality.id_shape_ok(guardian_id_number) THEN quality.id_check_ok(guardian_id_number) END,
       guardian_id_birth = quality.id_birth_date(guardian_id_number)
WHERE  id_number IS NOT NULL OR guardian_id_number IS NOT NULL;

CREATE OR REPLACE VIEW registry.record AS
SELECT v.round_id, v.record_id, v.version, v.file_id, v.sheet_no, v.row_no,
       coalesce(v.student_no_raw, v.student_no) AS student_no_raw,
       v.student_no,
       coalesce(v.school_code_raw, v.school_code) AS school_code_raw,
       v.school_code,
       v.school_name_raw,
       btrim(v.school_name_raw, E' \t\r\n\u3000\u00a0') AS school_name,
       v.name_raw,
       btrim(v.name_raw, E' \t\r\n\u3000\u00a0') AS name,
       coalesce(v.gender_raw, v.gender) AS gender_raw,
       v.gender,
       v.birth_date_raw,
       v.birth_date,
       coalesce(v.birthplace_raw, v.birthplace) AS birthplace_raw,
       v.birthplace,
       coalesce(v.nationality_raw, v.nationality) AS nationality_raw,
       v.nationality,
       coalesce(v.ethnicity_raw, v.ethnicity) AS ethnicity_raw,
       v.ethnicity,
       coalesce(v.id_type_raw, v.id_type) AS id_type_raw,
       v.id_type,
       coalesce(v.id_number_raw, v.id_number) AS id_number_raw,
       v.id_number,
       coalesce(v.hmt_status_raw, v.hmt_status) AS hmt_status_raw,
       v.hmt_status,
       coalesce(v.household_region_raw, v.household_region) AS household_region_raw,
       v.household_region,
       coalesce(v.household_type_raw, v.household_type) AS household_type_raw,
       v.household_type,
       coalesce(v.grade_raw, v.grade::text) AS grade_raw,
       v.grade,
       v.class_name_raw,
       btrim(v.class_name_raw, E' \t\r\n\u3000\u00a0') AS class_name,
       v.entry_month_raw,
       v.entry_month,
       coalesce(v.study_mode_raw, v.study_mode) AS study_mode_raw,
       v.study_mode,
       v.only_child_raw,
       v.only_child,
       v.migrant_child_raw,
       v.migrant_child,
       coalesce(v.left_behind_raw, v.left_behind) AS left_behind_raw,
       v.left_behind,
       coalesce(v.disability_raw, v.disability) AS disability_raw,
       v.disability,
       v.guardian_name_raw,
       btrim(v.guardian_name_raw, E' \t\r\n\u3000\u00a0') AS guardian_name,
       coalesce(v.guardian_relation_raw, v.guardian_relation) AS guardian_relation_raw,
       v.guardian_relation,
       coalesce(v.guardian_phone_raw, v.guardian_phone) AS guardian_phone_raw,
       v.guardian_phone,
       coalesce(v.guardian_id_number_raw, v.guardian_id_number) AS guardian_id_number_raw,
       v.guardian_id_number,
       v.address_raw,
       btrim(v.address_raw, E' \t\r\n\u3000\u00a0') AS address,
       v.extra_raw,
       v.normalised,
       v.id_number_check_ok,
       v.id_number_birth,
       v.guardian_id_check_ok,
       v.guardian_id_birth,
       v.is_current
FROM   registry.record_version v;

-- Made again: the column list of SELECT r.* was fixed when the view was first made.
CREATE OR REPLACE VIEW registry.current_record AS
SELECT r.*
FROM   registry.record r
WHERE  r.is_current;
