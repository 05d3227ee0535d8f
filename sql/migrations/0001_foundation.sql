-- 0001 foundation: schemas, reference data, rounds, source files, record versions (raw text beside typed
-- values), the school master, and the append-only audit log.

CREATE SCHEMA reference;
CREATE SCHEMA staging;
CREATE SCHEMA registry;
CREATE SCHEMA quality;
CREATE SCHEMA exchange;
CREATE SCHEMA lineage;
CREATE SCHEMA audit;
CREATE SCHEMA reporting;

-- Reference data is written by the program after migrating (ReferenceDataSync), from the lists it parses with.
CREATE TABLE reference.code (
    list     text NOT NULL,
    code     text NOT NULL,
    name_zh  text NOT NULL,
    name_en  text NOT NULL,
    PRIMARY KEY (list, code)
);

-- GB/T 2260 divisions, current codes only; every code is in its six-digit form (2301 -> 230100).
CREATE TABLE reference.region (
    code         text PRIMARY KEY,
    name         text NOT NULL,
    parent_code  text,
    level        smallint NOT NULL CHECK (level IN (1, 2, 3))
);

-- Which reference data is loaded (a fingerprint of the program's lists), so that it is rewritten only when it changed.
CREATE TABLE reference.sync_state (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    fingerprint  text NOT NULL,
    synced_at    timestamptz NOT NULL DEFAULT now()
);

-- A verification round. round_date is the reference date for ages and deadlines; school_year is the year in which
-- the school year containing round_date started (1 September).
CREATE TABLE registry.round (
    round_id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code               text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$'),
    round_date         date NOT NULL,
    school_year        smallint NOT NULL,
    previous_round_id  integer REFERENCES registry.round,
    status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         text NOT NULL
);

-- Every file (or source-database query result) taken into a round, with what staging saw in it: rows, distinct
-- school codes, and per field the number of values that did not parse (field name -> count). The same bytes twice in one round are refused
-- by the unique key, which is what makes a repeated extract a no-op.
CREATE TABLE staging.source_file (
    file_id        integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    round_id       integer NOT NULL REFERENCES registry.round,
    source_kind    text NOT NULL CHECK (source_kind IN ('csv', 'xlsx', 'database')),
    file_name      text NOT NULL,
    sha256         text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    byte_size      bigint,
    encoding       text,
    layout         text NOT NULL CHECK (layout IN ('student', 'school')),
    headers        text[] NOT NULL,
    extra_headers  text[] NOT NULL DEFAULT '{}',
    row_count      bigint NOT NULL DEFAULT 0,
    school_count   integer,
    unparsed       jsonb NOT NULL DEFAULT '{}',
    staged_by      text NOT NULL,
    staged_at      timestamptz NOT NULL DEFAULT now(),
    elapsed_ms     bigint,
    UNIQUE (round_id, sha256)
);

-- Every version of every student record of a round. Version 1 is the raw staging, with the source file and row, and
-- is never changed. Beside each field's raw text is its typed, normalised value (NULL when the text does not parse);
-- free text fields (names, class, address) have no typed column: their value is the trimmed text.
-- A raw column holds the text exactly as received, except that where that text is exactly the typed value's own
-- text (a code '1', an ID number as written, a grade '3') it is NULL: most values arrive in their typed form, and
-- storing them twice doubled the cost of staging. Versions after the first (corrections) always store the raw text.
-- The views registry.record and registry.current_record give the raw texts back in full; a NULL there means the
-- source had no value (a missing column, a short row, a database NULL).
-- record_id is (file_id << 32) + the row's ordinal in the file: unique, and known without asking the database.
-- Corrections add versions 2, 3, ... with the same columns. Partitioned by round so that a round is dropped or detached cheaply;
-- school_code is the distribution key should the database ever be spread over several nodes.
CREATE TABLE registry.record_version (
    round_id                 integer NOT NULL,
    record_id                bigint NOT NULL,
    version                  integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    file_id                  integer,
    sheet_no                 smallint,
    row_no                   integer,
    student_no_raw           text,
    student_no               text,
    school_code_raw          text,
    school_code              text,
    school_name_raw          text,
    name_raw                 text,
    gender_raw               text,
    gender                   text,
    birth_date_raw           text,
    birth_date               date,
    birthplace_raw           text,
    birthplace               text,
    nationality_raw          text,
    nationality              text,
    ethnicity_raw            text,
    ethnicity                text,
    id_type_raw              text,
    id_type                  text,
    id_number_raw            text,
    id_number                text,
    hmt_status_raw           text,
    hmt_status               text,
    household_region_raw     text,
    household_region         text,
    household_type_raw       text,
    household_type           text,
    grade_raw                text,
    grade                    smallint,
    class_name_raw           text,
    entry_month_raw          text,
    entry_month              date,
    study_mode_raw           text,
    study_mode               text,
    only_child_raw           text,
    only_child               boolean,
    migrant_child_raw        text,
    migrant_child            boolean,
    left_behind_raw          text,
    left_behind              text,
    disability_raw           text,
    disability               text,
    guardian_name_raw        text,
    guardian_relation_raw    text,
    guardian_relation        text,
    guardian_phone_raw       text,
    guardian_phone           text,
    guardian_id_number_raw   text,
    guardian_id_number       text,
    address_raw              text,
    extra_raw                text[],
    normalised               text[],
    CHECK (version > 1 OR (file_id IS NOT NULL AND row_no IS NOT NULL))
) PARTITION BY LIST (round_id);

COMMENT ON COLUMN registry.record_version.normalised IS
    'Fields whose typed value needed more than trimming: full-width characters folded, a lower-case x raised (NULL: none).';

-- The current version of a record, for records that have more than version 1.
CREATE TABLE registry.record_head (
    round_id         integer NOT NULL,
    record_id        bigint NOT NULL,
    current_version  integer NOT NULL CHECK (current_version > 1),
    PRIMARY KEY (round_id, record_id)
);

-- Every version with its raw texts put back (a raw column elided at staging because the text was exactly the typed
-- value is that value again) and free text trimmed: what rules, worksheets and lineage read.
CREATE VIEW registry.record AS
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
       v.normalised
FROM   registry.record_version v;

CREATE VIEW registry.current_record AS
SELECT r.*
FROM   registry.record r
LEFT   JOIN registry.record_head h ON h.round_id = r.round_id AND h.record_id = r.record_id
WHERE  r.version = COALESCE(h.current_version, 1);

-- The school master of a round, raw beside typed like the records.
CREATE TABLE registry.school (
    round_id                 integer NOT NULL REFERENCES registry.round,
    file_id                  integer NOT NULL REFERENCES staging.source_file,
    sheet_no                 smallint,
    row_no                   integer NOT NULL,
    school_code_raw          text,
    school_code              text,
    school_name_raw          text,
    district_code_raw        text,
    district_code            text,
    district_name_raw        text,
    min_grade_raw            text,
    min_grade                smallint,
    max_grade_raw            text,
    max_grade                smallint,
    is_open_raw              text,
    is_open                  boolean,
    extra_raw                text[],
    normalised               text[],
    UNIQUE NULLS NOT DISTINCT (round_id, file_id, sheet_no, row_no)
);
CREATE INDEX ON registry.school (round_id, school_code);

-- Creates the partitions of a round's big tables. The partition name comes from the integer id only.
CREATE FUNCTION registry.ensure_round_partitions(p_round_id integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE IF NOT EXISTS registry.record_version_r%s PARTITION OF registry.record_version FOR VALUES IN (%s)',
                   p_round_id, p_round_id);
END;
$$;

-- The key of a round's records, (record_id, version), is built after the first bulk load of the round: one sort
-- of the loaded rows costs far less than maintaining the index row by row during COPY. Idempotent.
CREATE FUNCTION registry.index_round_partitions(p_round_id integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS record_version_r%s_key ON registry.record_version_r%s (record_id, version)',
                   p_round_id, p_round_id);
END;
$$;

-- Append-only log of every operation: extracts, exports, downloads, uploads, sign-offs, logins, refusals.
CREATE TABLE audit.event (
    event_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,
    action       text NOT NULL,
    round_id     integer,
    school_code  text,
    object       text,
    details      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX ON audit.event (occurred_at);
CREATE INDEX ON audit.event (actor, occurred_at);

CREATE FUNCTION audit.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'The audit log is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON audit.event
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON audit.event
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
