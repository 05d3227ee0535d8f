-- 0002 quality: the rule catalogue (loaded from sql/rules), check runs, findings with their history, and the SQL
-- functions the rules share.

-- The catalogue as the program loaded it from its rule files; every version of a rule's text is kept.
CREATE TABLE quality.rule (
    rule_id   text PRIMARY KEY CHECK (rule_id ~ '^[A-Z][0-9]{2}$'),
    stage     smallint NOT NULL CHECK (stage BETWEEN 1 AND 6),
    severity  text NOT NULL CHECK (severity IN ('error', 'warning')),
    fields    text[] NOT NULL,
    title_en  text NOT NULL,
    title_zh  text NOT NULL,
    fix_en    text NOT NULL,
    fix_zh    text NOT NULL,
    version   integer NOT NULL CHECK (version >= 1)
);
COMMENT ON COLUMN quality.rule.stage IS '1 structure, 2 format, 3 consistency, 4 cross-record, 5 cross-round, 6 school';

CREATE TABLE quality.rule_version (
    rule_id    text NOT NULL REFERENCES quality.rule,
    version    integer NOT NULL,
    sha256     text NOT NULL,
    sql        text NOT NULL,
    loaded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, version)
);

-- One run of the checks over a round (scope 'full'), or over some records of it (scope 'records').
CREATE TABLE quality.check_run (
    run_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    round_id       integer NOT NULL REFERENCES registry.round,
    scope          text NOT NULL CHECK (scope IN ('full', 'records')),
    actor          text NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    rule_versions  jsonb NOT NULL,
    counts         jsonb NOT NULL DEFAULT '{}',
    stage_ms       jsonb NOT NULL DEFAULT '{}'
);

CREATE SEQUENCE quality.finding_id_seq AS bigint CACHE 1000;

-- Every failing record (or school) of a round, none capped. A finding keeps the rule version and the record version
-- it was found on. Its fingerprint (rule, school, student number, field) recognises the same problem in the next
-- round, and first_seen_round_id says since when it has been there. Status: open until resolved (no longer found),
-- confirmed (explained and accepted), removed (registration removed), or superseded (a later full run replaced it).
CREATE TABLE quality.finding (
    round_id             integer NOT NULL,
    finding_id           bigint NOT NULL DEFAULT nextval('quality.finding_id_seq'),
    run_id               bigint NOT NULL,
    rule_id              text NOT NULL,
    rule_version         integer NOT NULL,
    severity             text NOT NULL CHECK (severity IN ('error', 'warning')),
    record_id            bigint,
    record_version       integer,
    school_code          text,
    student_no           text,
    field                text NOT NULL,
    value                text,
    detail               text,
    status               text NOT NULL DEFAULT 'open'
                         CHECK (status IN ('open', 'resolved', 'confirmed', 'removed', 'superseded')),
    fingerprint          text NOT NULL,
    first_seen_round_id  integer NOT NULL,
    closed_run_id        bigint
) PARTITION BY LIST (round_id);

CREATE OR REPLACE FUNCTION registry.ensure_round_partitions(p_round_id integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE IF NOT EXISTS registry.record_version_r%s PARTITION OF registry.record_version FOR VALUES IN (%s)',
                   p_round_id, p_round_id);
    EXECUTE format('CREATE TABLE IF NOT EXISTS quality.finding_r%s PARTITION OF quality.finding FOR VALUES IN (%s)',
                   p_round_id, p_round_id);
    EXECUTE format('CREATE INDEX IF NOT EXISTS finding_r%s_record ON quality.finding_r%s (record_id) WHERE status = ''open''',
                   p_round_id, p_round_id);
    EXECUTE format('CREATE INDEX IF NOT EXISTS finding_r%s_fingerprint ON quality.finding_r%s (fingerprint)',
                   p_round_id, p_round_id);
END;
$$;

-- Rounds staged before this migration get their finding partitions.
SELECT registry.ensure_round_partitions(round_id) FROM registry.round;

-- Resident ID helpers (GB 11643): the argument is the normalised number (upper case, half-width). They are plain
-- SQL expressions, not STRICT, so that the planner inlines them into the rules' queries: a function call per row
-- was most of a rule's time.
CREATE FUNCTION quality.id_shape_ok(id text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN id ~ '^[0-9]{17}[0-9X]$';

CREATE FUNCTION quality.id_check_char(id text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN substr('10X98765432',
    ((substr(id, 1, 1)::int * 7 + substr(id, 2, 1)::int * 9 + substr(id, 3, 1)::int * 10 + substr(id, 4, 1)::int * 5
    + substr(id, 5, 1)::int * 8 + substr(id, 6, 1)::int * 4 + substr(id, 7, 1)::int * 2 + substr(id, 8, 1)::int * 1
    + substr(id, 9, 1)::int * 6 + substr(id, 10, 1)::int * 3 + substr(id, 11, 1)::int * 7 + substr(id, 12, 1)::int * 9
    + substr(id, 13, 1)::int * 10 + substr(id, 14, 1)::int * 5 + substr(id, 15, 1)::int * 8 + substr(id, 16, 1)::int * 4
    + substr(id, 17, 1)::int * 2) % 11) + 1, 1);

-- True when the check character is right (the shape must be checked first: the function reads 17 digits).
CREATE FUNCTION quality.id_check_ok(id text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN quality.id_shape_ok(id) THEN quality.id_check_char(id) = substr(id, 18, 1) ELSE false END;

-- The birth segment as a date, NULL when it is not a real date (never an error: CASE evaluates in order, so
-- make_date only ever sees a real year and month).
CREATE FUNCTION quality.id_birth_date(id text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN NOT quality.id_shape_ok(id) THEN NULL
    WHEN substr(id, 7, 4)::int < 1 OR substr(id, 11, 2)::int NOT BETWEEN 1 AND 12 THEN NULL
    WHEN substr(id, 13, 2)::int BETWEEN 1 AND
         extract(day FROM (make_date(substr(id, 7, 4)::int, substr(id, 11, 2)::int, 1) + interval '1 month - 1 day'))::int
    THEN make_date(substr(id, 7, 4)::int, substr(id, 11, 2)::int, substr(id, 13, 2)::int)
END;

-- 1 (male) for an odd sequence digit (position 17), 2 (female) for an even one.
CREATE FUNCTION quality.id_gender(id text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN quality.id_shape_ok(id) THEN CASE WHEN substr(id, 17, 1)::int % 2 = 1 THEN '1' ELSE '2' END END;

-- A usable identity number of its type: a resident ID with a right check character and a real birth segment, or
-- another type's number of the form F02 asks for. The cross-record and cross-round rules compare only these.
CREATE FUNCTION quality.id_valid(id_type text, id text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE id_type
    WHEN '1' THEN quality.id_check_ok(id) AND quality.id_birth_date(id) IS NOT NULL
    WHEN '6' THEN id ~ '^H[0-9]{8}([0-9]{2})?$'
    WHEN '7' THEN id ~ '^M[0-9]{8}([0-9]{2})?$'
    WHEN '8' THEN id ~ '^[0-9]{8}([0-9]{2})?$'
    WHEN '9' THEN id ~ '^[A-Z]{3}[0-9]{12}$'
    WHEN 'A' THEN id ~ '^[A-Z0-9]{5,17}$' AND id ~ '[0-9]'
    ELSE false
END;
