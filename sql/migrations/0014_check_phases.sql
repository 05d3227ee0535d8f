-- 0014 check phases: stages that read the same input run side by side as one phase (CheckRunner), and a run records
-- the wall time of each phase, keyed by its stages ("1", "2", "3-6"). Runs recorded before keep their keys per stage.
COMMENT ON COLUMN quality.check_run.stage_ms IS
    'Milliseconds per phase, keyed by its stages ("1", "2", "3-6"; before migration 0014 one key per stage, 6 the school stage): its rules side by side, and storing their findings.';
