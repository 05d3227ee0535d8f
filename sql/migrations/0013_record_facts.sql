-- 0013 record facts: what a record's values say about themselves, worked out by the program when a version is written
-- (RecordFacts in StudentDataQuality.Core: staging and corrections alike), so that the checks compare booleans and short
-- lists instead of testing the text of every row of a round; and a round's new record partition laid out for scanning.

ALTER TABLE registry.record_version
    ADD COLUMN blank_fields            text[],
    ADD COLUMN bad_text_fields         text[],
    ADD COLUMN student_no_shape_ok     boolean,
    ADD COLUMN school_code_shape_ok    boolean,
    ADD COLUMN name_shape_ok           boolean,
    ADD COLUMN guardian_name_shape_ok  boolean,
    ADD COLUMN guardian_phone_ok       boolean;

COMMENT ON COLUMN registry.record_version.blank_fields IS 'Fields whose text is missing or white space only; NULL when none.';
COMMENT ON COLUMN registry.record_version.bad_text_fields IS
    'Fields whose text, not blank, has a control or replacement character or is longer than the field allows (UTF-16 code units); NULL when none.';
COMMENT ON COLUMN registry.record_version.student_no_shape_ok IS 'The normalised student number is G, L or J and 18 letters or digits; NULL when none.';
COMMENT ON COLUMN registry.record_version.school_code_shape_ok IS 'The normalised school code is 10 digits; NULL when none.';
COMMENT ON COLUMN registry.record_version.name_shape_ok IS 'The trimmed name is 2-30 CJK ideographs or Latin letters, parts joined by a middle dot; NULL when blank.';
COMMENT ON COLUMN registry.record_version.guardian_name_shape_ok IS 'As name_shape_ok, for guardian_name.';
COMMENT ON COLUMN registry.record_version.guardian_phone_ok IS 'The phone is an 11-digit mobile or a landline with its area code; NULL when blank.';

-- Versions written before this migration get their facts from the same definitions in SQL (the rules' own tests of
-- the versions before). The raw text is as the views give it: where it was stored NULL it was the typed value's text.
-- Checked against RecordFacts: on a round of 200,000 records with its previous round and corrections (401,969
-- versions written by the program), these expressions gave every fact of every version the same.
WITH fact AS (
    SELECT r.round_id, r.record_id, r.version, t.blank_fields, t.bad_text_fields,
           CASE WHEN r.student_no IS NOT NULL THEN octet_length(r.student_no) = 19 AND r.student_no ~ '^[GLJ][0-9A-Z]+$' END AS student_no_shape_ok,
           CASE WHEN r.school_code IS NOT NULL THEN octet_length(r.school_code) = 10 AND r.school_code ~ '^[0-9]+$' END AS school_code_shape_ok,
           CASE WHEN r.name <> '' THEN length(r.name) BETWEEN 2 AND 30
                AND (r.name ~ '^[\u3400-\u4dbf\u4e00-\u9fff]+(·[\u3400-\u4dbf\u4e00-\u9fff]+)*$' OR r.name ~ '^[A-Za-z]+(·[A-Za-z]+)*$') END AS name_shape_ok,
           CASE WHEN r.guardian_name <> '' THEN length(r.guardian_name) BETWEEN 2 AND 30
                AND (r.guardian_name ~ '^[\u3400-\u4dbf\u4e00-\u9fff]+(·[\u3400-\u4dbf\u4e00-\u9fff]+)*$'
                     OR r.guardian_name ~ '^[A-Za-z]+(·[A-Za-z]+)*$') END AS guardian_name_shape_ok,
           CASE WHEN btrim(r.guardian_phone_raw, E' \t\r\n\u3000\u00a0') <> ''
                THEN coalesce((octet_length(p.digits) = 11 AND p.digits ~ '^1[3-9][0-9]+$') OR p.digits ~ '^0[0-9]{2,3}[2-9][0-9]{6,7}$', false) END
               AS guardian_phone_ok
    FROM   registry.record r
    -- Each field's text once, judged blank or bad as RecordFacts judges it.
    CROSS  JOIN LATERAL (SELECT array_agg(f.field) FILTER (WHERE coalesce(btrim(f.value, E' \t\r\n\u3000\u00a0'), '') = '') AS blank_fields,
                                array_agg(f.field) FILTER (WHERE btrim(f.value, E' \t\r\n\u3000\u00a0') <> ''
                                                             AND (f.value ~ '[\u0001-\u001f\u007f-\u009f\ufffd]'
                                                                  OR length(f.value) + regexp_count(f.value, '[\U00010000-\U0010ffff]') > f.max_length))
                                    AS bad_text_fields
                         FROM (VALUES ('student_no', r.student_no_raw, 19),
                           ('school_code', r.school_code_raw, 10),
                           ('school_name', r.school_name_raw, 100),
                           ('name', r.name_raw, 30),
                           ('gender', r.gender_raw, 10),
                           ('birth_date', r.birth_date_raw, 20),
                           ('birthplace', r.birthplace_raw, 20),
                           ('nationality', r.nationality_raw, 40),
                           ('ethnicity', r.ethnicity_raw, 20),
                           ('id_type', r.id_type_raw, 30),
                           ('id_number', r.id_number_raw, 30),
                           ('hmt_status', r.hmt_status_raw, 20),
                           ('household_region', r.household_region_raw, 20),
                           ('household_type', r.household_type_raw, 20),
                           ('grade', r.grade_raw, 10),
                           ('class_name', r.class_name_raw, 30),
                           ('entry_month', r.entry_month_raw, 20),
                           ('study_mode', r.study_mode_raw, 10),
                           ('only_child', r.only_child_raw, 10),
                           ('migrant_child', r.migrant_child_raw, 10),
                           ('left_behind', r.left_behind_raw, 20),
                           ('disability', r.disability_raw, 20),
                           ('guardian_name', r.guardian_name_raw, 30),
                           ('guardian_relation', r.guardian_relation_raw, 20),
                           ('guardian_phone', r.guardian_phone_raw, 20),
                           ('guardian_id_number', r.guardian_id_number_raw, 30),
                           ('address', r.address_raw, 200)) AS f (field, value, max_length)) t
    CROSS  JOIN LATERAL (SELECT CASE WHEN octet_length(r.guardian_phone) = 13 AND left(r.guardian_phone, 2) = '86' THEN substr(r.guardian_phone, 3)
                                     ELSE r.guardian_phone END AS digits) p
)
UPDATE registry.record_version v
SET    blank_fields = f.blank_fields, bad_text_fields = f.bad_text_fields, student_no_shape_ok = f.student_no_shape_ok,
       school_code_shape_ok = f.school_code_shape_ok, name_shape_ok = f.name_shape_ok, guardian_name_shape_ok = f.guardian_name_shape_ok,
       guardian_phone_ok = f.guardian_phone_ok
FROM   fact f
WHERE  v.round_id = f.round_id AND v.record_id = f.record_id AND v.version = f.version;

-- The facts in the views (added at the end: a view's columns keep their places).
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
       v.is_current,
       v.return_id,
       v.registration_removed,
       v.blank_fields,
       v.bad_text_fields,
       v.student_no_shape_ok,
       v.school_code_shape_ok,
       v.name_shape_ok,
       v.guardian_name_shape_ok,
       v.guardian_phone_ok
FROM   registry.record_version v;

-- Made again: the column list of SELECT r.* was fixed when the view was made.
CREATE OR REPLACE VIEW registry.current_record AS
SELECT r.*
FROM   registry.record r
WHERE  r.is_current AND NOT r.registration_removed;

-- A round's record partition is made with the columns the checks filter on first: what says which version is current,
-- the typed values and the facts; the raw texts (read only for the few failing records) last. PostgreSQL takes a row's
-- columns apart from the first up to the last one a condition needs: a condition on a column added at the end of the
-- table (is_current, a fact) took every column of every row apart. The partition is an ordinary table with the
-- parent's columns and constraints, then attached; the partitions of earlier rounds keep their layout.
CREATE FUNCTION registry.create_record_partition(p_round_id integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_columns      text;
    v_constraints  text;
BEGIN
    SELECT string_agg(format('%I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                             CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
                             coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')),
                      ', ' ORDER BY CASE WHEN a.attname IN ('round_id', 'record_id', 'version', 'is_current', 'registration_removed') THEN 0
                                         WHEN a.attname IN ('blank_fields', 'bad_text_fields') THEN 3
                                         WHEN a.attname LIKE '%\_raw' OR a.attname IN ('extra_raw', 'normalised') THEN 4
                                         WHEN format_type(a.atttypid, a.atttypmod) IN ('boolean', 'date', 'smallint', 'integer', 'bigint') THEN 1
                                         ELSE 2 END, a.attnum)
    INTO   v_columns
    FROM   pg_attribute a
    LEFT   JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE  a.attrelid = 'registry.record_version'::regclass AND a.attnum > 0 AND NOT a.attisdropped;

    SELECT string_agg(format(', CONSTRAINT %I %s', c.conname, pg_get_constraintdef(c.oid)), '')
    INTO   v_constraints
    FROM   pg_constraint c
    WHERE  c.conrelid = 'registry.record_version'::regclass AND c.contype = 'c';

    EXECUTE format('CREATE TABLE registry.record_version_r%s (%s%s)', p_round_id, v_columns, coalesce(v_constraints, ''));
    EXECUTE format('ALTER TABLE registry.record_version ATTACH PARTITION registry.record_version_r%s FOR VALUES IN (%s)', p_round_id, p_round_id);
END;
$$;
REVOKE EXECUTE ON FUNCTION registry.create_record_partition(integer) FROM PUBLIC;

-- As in migration 0006, but for the record partition; security definer as migration 0010 made it (CREATE OR REPLACE
-- would otherwise drop it): the portal may make a round's partitions without being able to create anything itself.
CREATE OR REPLACE FUNCTION registry.ensure_round_partitions(p_round_id integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF to_regclass(format('registry.record_version_r%s', p_round_id)) IS NULL THEN
        PERFORM registry.create_record_partition(p_round_id);
    END IF;
    EXECUTE format('CREATE TABLE IF NOT EXISTS quality.finding_r%s PARTITION OF quality.finding FOR VALUES IN (%s)',
                   p_round_id, p_round_id);
    EXECUTE format('CREATE INDEX IF NOT EXISTS finding_r%s_record ON quality.finding_r%s (record_id) WHERE status = ''open''',
                   p_round_id, p_round_id);
    EXECUTE format('CREATE INDEX IF NOT EXISTS finding_r%s_fingerprint ON quality.finding_r%s (fingerprint)',
                   p_round_id, p_round_id);
    EXECUTE format('CREATE INDEX IF NOT EXISTS finding_r%s_record_rule ON quality.finding_r%s (record_id, rule_id)',
                   p_round_id, p_round_id);
END;
$$;
