-- 0012 check engine: the time of each rule of a check run, and the values a run sets aside after stages 1 and 2 (read by
-- sql/checks/checked_record.sql on each of the run's connections).

ALTER TABLE quality.check_run ADD COLUMN rule_ms jsonb NOT NULL DEFAULT '{}';
COMMENT ON COLUMN quality.check_run.rule_ms IS 'Milliseconds per rule id: the rule''s query and reading its failing records back.';
COMMENT ON COLUMN quality.check_run.stage_ms IS 'Milliseconds per stage number (6 school): its rules, and storing their findings.';

-- A check run's (record, field) pairs that failed an invalidating rule so far (sql/checks/checked_record.sql). Rows
-- live only inside the run's transaction: the run deletes its own before it commits, and a run that fails leaves none.
-- Unlogged: nothing here outlives a crash.
CREATE UNLOGGED TABLE quality.check_failed_field (
    run_id     bigint NOT NULL,
    record_id  bigint NOT NULL,
    field      text NOT NULL
);
CREATE INDEX ON quality.check_failed_field (run_id, record_id);
