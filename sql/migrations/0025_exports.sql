-- 0025 export control (issue 19; docs/exports.md). Every file with students in it leaves through the export register:
-- the policy decides before it is made, a bulk export (more than one school's students in full) is a request approved by
-- a second data-team account and taken once within its window, and every file that left is recorded with who took it,
-- when, why, what it holds and its sha256 (its watermark names the export id).
--
--   export.request   a request with its purpose; its decision (never by the requester: a constraint, not only the code);
--                    its window; when it was taken and as which export
--   export.file      one row per file that left (requested or routine): the export id its watermark carries, the kind,
--                    form, scope, round, purpose, who took it, from where, the file's name, rows, fields, sha256, length
--   export.file_part files inside one that left and may travel alone (the CSV in a .zip, each PDF of a bulk print), by sha256
--   export.request_moves_forward  a request's decision and its taking are written once each, in order, never undone

CREATE SCHEMA export;

CREATE TABLE export.request (
    request_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('worksheet', 'receipt', 'lineage', 'changes', 'problem_list',
                                                  'confirmation_sheets', 'class_answers', 'trend_table')),
    form            text NOT NULL CHECK (form IN ('masked', 'full')),
    scope           text NOT NULL CHECK (scope <> '' AND length(scope) <= 120),
    round_id        integer REFERENCES registry.round,
    purpose         text NOT NULL CHECK (length(btrim(purpose)) BETWEEN 1 AND 500),
    requested_by    text NOT NULL,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    requested_from  text,
    decision        text CHECK (decision IN ('approved', 'refused')),
    decided_by      text,
    decided_at      timestamptz,
    decision_note   text CHECK (length(decision_note) <= 500),
    expires_at      timestamptz,
    taken_at        timestamptz,
    export_id       text,
    -- Four eyes: whoever asked never decides, and the command line's operators (cli:<os user>) decide the command line's
    -- requests, the portal's accounts the portal's (one person is not two names across them).
    CONSTRAINT request_four_eyes CHECK (decided_by IS NULL OR decided_by <> requested_by),
    CONSTRAINT request_same_channel CHECK (decided_by IS NULL OR (left(decided_by, 4) = 'cli:') = (left(requested_by, 4) = 'cli:')),
    CONSTRAINT request_decided CHECK ((decision IS NULL) = (decided_by IS NULL) AND (decision IS NULL) = (decided_at IS NULL)),
    CONSTRAINT request_window CHECK ((decision IS NOT DISTINCT FROM 'approved') = (expires_at IS NOT NULL)),
    CONSTRAINT request_taken CHECK ((taken_at IS NULL) = (export_id IS NULL)
                                    AND (taken_at IS NULL OR (decision = 'approved' AND taken_at <= expires_at)))
);

CREATE INDEX request_requested_by ON export.request (requested_by, request_id DESC);
CREATE INDEX request_waiting ON export.request (request_id DESC) WHERE decision IS NULL;

CREATE TABLE export.file (
    export_id    text PRIMARY KEY CHECK (export_id ~ '^EX[0-9A-HJKMNP-TV-Z]{10}$'),
    kind         text NOT NULL CHECK (kind IN ('worksheet', 'receipt', 'lineage', 'changes', 'problem_list',
                                               'confirmation_sheets', 'class_answers', 'trend_table')),
    form         text NOT NULL CHECK (form IN ('aggregate', 'masked', 'full')),
    scope        text NOT NULL CHECK (scope <> '' AND length(scope) <= 120),
    round_id     integer REFERENCES registry.round,
    purpose      text NOT NULL CHECK (length(btrim(purpose)) BETWEEN 1 AND 500),
    request_id   bigint UNIQUE REFERENCES export.request,
    taken_by     text NOT NULL,
    taken_at     timestamptz NOT NULL DEFAULT now(),
    taken_from   text,
    file_name    text NOT NULL CHECK (file_name <> '' AND length(file_name) <= 255),
    rows         integer NOT NULL CHECK (rows >= 0),
    fields       text[] NOT NULL,
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes        bigint NOT NULL CHECK (bytes >= 0)
);

CREATE INDEX file_sha256 ON export.file (sha256);
CREATE INDEX file_taken_at ON export.file (taken_at DESC);
CREATE INDEX file_taken_by ON export.file (taken_by, taken_at DESC);
CREATE INDEX file_kind ON export.file (kind, taken_at DESC);

CREATE TABLE export.file_part (
    export_id  text NOT NULL REFERENCES export.file,
    file_name  text NOT NULL CHECK (file_name <> '' AND length(file_name) <= 255),
    sha256     text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    PRIMARY KEY (export_id, file_name)
);

CREATE INDEX file_part_sha256 ON export.file_part (sha256);

ALTER TABLE export.request ADD CONSTRAINT request_export FOREIGN KEY (export_id) REFERENCES export.file DEFERRABLE INITIALLY DEFERRED;

-- A request moves forward only: decided once (and an approval's window set then, never moved), taken once while approved
-- and within its window, as the file recorded for it. What was decided or taken is never rewritten, whoever updates.
CREATE FUNCTION export.request_moves_forward() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (OLD.decision IS NOT NULL AND (NEW.decision, NEW.decided_by, NEW.decided_at, NEW.decision_note, NEW.expires_at)
                                     IS DISTINCT FROM (OLD.decision, OLD.decided_by, OLD.decided_at, OLD.decision_note, OLD.expires_at))
       OR (OLD.taken_at IS NOT NULL AND (NEW.taken_at, NEW.export_id) IS DISTINCT FROM (OLD.taken_at, OLD.export_id)) THEN
        RAISE EXCEPTION 'export request % was decided or taken already: it is never rewritten', OLD.request_id USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.taken_at IS NULL AND NEW.taken_at IS NOT NULL
       AND (OLD.decision IS DISTINCT FROM 'approved' OR now() > OLD.expires_at
            OR NOT EXISTS (SELECT 1 FROM export.file f WHERE f.export_id = NEW.export_id AND f.request_id = OLD.request_id)) THEN
        RAISE EXCEPTION 'export request % is taken only while approved and within its window, as the file recorded for it', OLD.request_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER request_moves_forward BEFORE UPDATE ON export.request FOR EACH ROW EXECUTE FUNCTION export.request_moves_forward();

COMMENT ON TABLE export.request IS 'A bulk export asked for with its purpose, decided by a second data-team account, taken once within its window (0025).';
COMMENT ON TABLE export.file IS 'Every file with students in it (and every trend table) that left the system; its watermark names export_id (0025).';

-- The portal records exports and decides requests; it never rewrites nor deletes a record of what left.
REVOKE ALL ON export.request, export.file, export.file_part FROM sdq_app;
GRANT SELECT, INSERT ON export.request, export.file, export.file_part TO sdq_app;
GRANT UPDATE (decision, decided_by, decided_at, decision_note, expires_at, taken_at, export_id) ON export.request TO sdq_app;
