-- 0004 worksheets: what was issued to each school. A worksheet is one .xlsx for one school of one round; re-issuing
-- the school's worksheet (after a partial return) gives the next issue number. Every row is kept as issued (the
-- snapshot a returned file is compared with), with the findings it showed and its signature.

CREATE TABLE exchange.worksheet (
    worksheet_id      uuid PRIMARY KEY,
    round_id          integer NOT NULL REFERENCES registry.round,
    school_code       text NOT NULL,
    issue_no          integer NOT NULL CHECK (issue_no >= 1),
    language          text NOT NULL CHECK (language IN ('zh', 'en')),
    file_name         text NOT NULL,
    sha256            text NOT NULL,
    bytes             bigint NOT NULL,
    key_id            text NOT NULL,
    template_version  integer NOT NULL,
    row_count         integer NOT NULL,
    error_count       integer NOT NULL,
    warning_count     integer NOT NULL,
    deadline          date,
    issued_at         timestamptz NOT NULL DEFAULT now(),
    issued_by         text NOT NULL,
    UNIQUE (round_id, school_code, issue_no)
);
COMMENT ON TABLE exchange.worksheet IS 'One issued problem worksheet per school, round and issue number; the file itself is not kept, its sha256 is.';

-- The issued snapshot: per row the record and version shown, the fields shown (in the column order of the file) and
-- their values as issued, the findings the row showed, and the row's signature.
CREATE TABLE exchange.worksheet_row (
    worksheet_id    uuid NOT NULL REFERENCES exchange.worksheet,
    row_key         text NOT NULL,
    round_id        integer NOT NULL,
    school_code     text NOT NULL,
    record_id       bigint NOT NULL,
    record_version  integer NOT NULL,
    fields          text[] NOT NULL,
    issued_values   text[] NOT NULL,
    finding_ids     bigint[] NOT NULL,
    signature       text NOT NULL,
    PRIMARY KEY (worksheet_id, row_key)
);
CREATE INDEX ON exchange.worksheet_row (round_id, record_id);

-- Worksheets are built school by school from the open findings.
CREATE INDEX finding_open_school ON quality.finding (round_id, school_code) WHERE status = 'open';
