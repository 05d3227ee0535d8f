-- 0006 re-check indexes: an ingest re-checks the few records a return changed, and each rule that groups records
-- first finds their partners (the records sharing its partner fields). Without an index every such lookup read both
-- rounds (half a second per rule on 200,000 records, seconds on three million), per returned file. The partner fields
-- of the catalogue are served by three indexes per round: school and student number (also school alone), ID number
-- (also with the school), and name with birth date (also with gender). The name is indexed as the views trim it.
CREATE OR REPLACE FUNCTION registry.index_round_partitions(p_round_id integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS record_version_r%s_key ON registry.record_version_r%s (record_id, version)',
                   p_round_id, p_round_id);
    EXECUTE format('CREATE INDEX IF NOT EXISTS record_version_r%s_student ON registry.record_version_r%s (school_code, student_no)',
                   p_round_id, p_round_id);
    EXECUTE format('CREATE INDEX IF NOT EXISTS record_version_r%s_id_number ON registry.record_version_r%s (id_number)',
                   p_round_id, p_round_id);
    EXECUTE format($f$CREATE INDEX IF NOT EXISTS record_version_r%s_name ON registry.record_version_r%s
                      ((btrim(name_raw, E' \t\r\n\u3000\u00a0')), birth_date)$f$, p_round_id, p_round_id);
END;
$$;

-- Rounds staged before this migration get them now (only rounds that were indexed, that is loaded, already).
SELECT registry.index_round_partitions(r.round_id)
FROM   registry.round r
WHERE  to_regclass(format('registry.record_version_r%s_key', r.round_id)) IS NOT NULL;

-- A re-check closes the earlier findings of the records in its scope, whatever their status (open or confirmed): by
-- record, through this index, rather than reading the round's findings once per rule.
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
    EXECUTE format('CREATE INDEX IF NOT EXISTS finding_r%s_record_rule ON quality.finding_r%s (record_id, rule_id)',
                   p_round_id, p_round_id);
END;
$$;

SELECT registry.ensure_round_partitions(round_id) FROM registry.round;
