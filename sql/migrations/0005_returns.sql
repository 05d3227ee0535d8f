-- 0005 returns: what came back from the schools. A returned worksheet (exchange.worksheet_return) is kept with its
-- sha256 and receipt; each changed cell becomes a correction (exchange.correction) and a new version of its record; a
-- confirmation waits for the data team's review (exchange.explanation); a removed registration is a last version
-- marked removed, never a deleted row. Accounts (access.account) say who acts for which school.

CREATE SCHEMA access;

-- Who may act, and for what: the data team (everything), a district office (its schools), a school (its own), a
-- manager (aggregates only). The web portal adds the password and its policy; the command line acts as the data team
-- unless told to act as an account.
CREATE TABLE access.account (
    account        text PRIMARY KEY CHECK (account ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    role           text NOT NULL CHECK (role IN ('data_team', 'district', 'school', 'manager')),
    school_code    text,
    district_code  text,
    display_name   text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text NOT NULL,
    CHECK (role <> 'school' OR school_code IS NOT NULL),
    CHECK (role <> 'district' OR district_code IS NOT NULL)
);

-- One uploaded file that was taken (refused files leave an audit entry only). The same bytes are taken once: a second
-- upload gets this receipt again.
CREATE TABLE exchange.worksheet_return (
    return_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    worksheet_id  uuid NOT NULL REFERENCES exchange.worksheet,
    round_id      integer NOT NULL REFERENCES registry.round,
    school_code   text NOT NULL,
    file_name     text NOT NULL,
    sha256        text NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes         bigint NOT NULL,
    received_by   text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    check_run_id  bigint,
    counts        jsonb NOT NULL DEFAULT '{}',
    receipt       jsonb NOT NULL
);
CREATE INDEX ON exchange.worksheet_return (round_id, school_code);
CREATE INDEX ON exchange.worksheet_return (worksheet_id);

-- Every value a return changed, and every registration it removed: where in the file (sheet, Excel row, column header,
-- cell), the value before and after, and the record versions before and after.
CREATE TABLE exchange.correction (
    correction_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    return_id      bigint NOT NULL REFERENCES exchange.worksheet_return,
    round_id       integer NOT NULL,
    record_id      bigint NOT NULL,
    from_version   integer NOT NULL,
    to_version     integer NOT NULL CHECK (to_version > from_version),
    kind           text NOT NULL CHECK (kind IN ('value', 'removal')),
    field          text,
    old_value      text,
    new_value      text,
    reason         text,
    row_key        text NOT NULL,
    sheet          text NOT NULL,
    excel_row      integer NOT NULL,
    column_header  text,
    cell           text,
    CHECK ((kind = 'value') = (field IS NOT NULL))
);
CREATE INDEX ON exchange.correction (round_id, record_id);
CREATE INDEX ON exchange.correction (return_id);

-- A school's "this is right as it stands" for a row's findings, waiting for the data team: accepted, the findings
-- become confirmed; refused, they stay open. A later explanation of the same row supersedes a pending one.
CREATE TABLE exchange.explanation (
    explanation_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    return_id       bigint NOT NULL REFERENCES exchange.worksheet_return,
    round_id        integer NOT NULL,
    school_code     text NOT NULL,
    record_id       bigint NOT NULL,
    record_version  integer NOT NULL,
    row_key         text NOT NULL,
    excel_row       integer NOT NULL,
    text            text NOT NULL,
    fingerprints    text[] NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'refused', 'superseded')),
    reviewed_by     text,
    reviewed_at     timestamptz,
    review_note     text
);
CREATE INDEX ON exchange.explanation (round_id, status);
CREATE INDEX ON exchange.explanation (round_id, record_id);

-- The version a return made (NULL: staged from an extract), and whether the registration is removed (the record's
-- last version, kept; the checks and the worksheets no longer see it). Both are constant defaults: no table rewrite.
ALTER TABLE registry.record_version
    ADD COLUMN return_id             bigint,
    ADD COLUMN registration_removed  boolean NOT NULL DEFAULT false;

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
       v.registration_removed
FROM   registry.record_version v;

-- The current registrations: a removed one is no longer checked, issued or counted.
CREATE OR REPLACE VIEW registry.current_record AS
SELECT r.*
FROM   registry.record r
WHERE  r.is_current AND NOT r.registration_removed;
