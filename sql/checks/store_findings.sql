-- The findings of one stage of a check run, written once for every scope (CheckRunner). Input: the scratch tables
-- rule_result (what each rule of the stage returned, tagged with its rule id) and stage_rule (the stage's rules:
-- version, severity, partner set, whether school-level or invalidating), filled by the runner. Parameters: the round,
-- the previous round, the run, and whole: true for a run over the whole round, false for a re-check of some records,
-- whose scopes are rule_scope (records per partner set) and scope_school (schools of the re-checked records).
-- Each statement is planned with the value of whole, so the branch of the other scope costs nothing.

-- A re-check keeps of each rule's results those within the rule's own scope (a rule with partners also reports on
-- them, and a school-level rule on the schools of scope_school).
DELETE FROM rule_result q USING stage_rule r
WHERE  NOT @whole
  AND  q.rule_id = r.rule_id
  AND  CASE WHEN q.record_id IS NULL THEN q.school_code IS NULL OR q.school_code NOT IN (SELECT c.school_code FROM scope_school c)
            ELSE NOT EXISTS (SELECT 1 FROM rule_scope s WHERE s.partner_set = r.partner_set AND s.record_id = q.record_id) END;

-- The findings, each with its fingerprint (the same problem in another run or round) and the round it was first seen
-- in. A problem that was confirmed (explained, and the explanation accepted) stays confirmed while its value is the
-- same. Returns the count per rule.
WITH inserted AS (
    INSERT INTO quality.finding (round_id, run_id, rule_id, rule_version, severity, record_id, record_version, school_code,
                                 student_no, field, value, detail, fingerprint, first_seen_round_id, status)
    SELECT @round_id, @run_id, q.rule_id, r.rule_version, coalesce(q.severity, r.severity), q.record_id, c.version,
           coalesce(c.school_code, q.school_code), c.student_no, q.field, q.value, q.detail, fp.fingerprint,
           coalesce((SELECT min(p.first_seen_round_id) FROM quality.finding p
                     WHERE p.round_id IN (@round_id, @previous_round_id) AND p.fingerprint = fp.fingerprint), @round_id),
           CASE WHEN EXISTS (SELECT 1 FROM quality.finding o
                             WHERE  o.round_id = @round_id AND o.fingerprint = fp.fingerprint AND o.status = 'confirmed'
                               AND  o.record_id IS NOT DISTINCT FROM q.record_id AND o.value IS NOT DISTINCT FROM q.value)
                THEN 'confirmed' ELSE 'open' END
    FROM   rule_result q
    JOIN   stage_rule r ON r.rule_id = q.rule_id
    LEFT   JOIN registry.current_record c ON c.round_id IN (@round_id, @previous_round_id) AND c.record_id = q.record_id
    CROSS  JOIN LATERAL (SELECT concat_ws('|', q.rule_id, coalesce(c.school_code, q.school_code), c.student_no, q.field) AS fingerprint) fp
    RETURNING rule_id)
SELECT rule_id, count(*) FROM inserted GROUP BY rule_id;

-- The rules' earlier findings in the scope are closed: superseded where this run found the same problem again,
-- resolved where it is gone. Over a whole round, every open one of the stage's rules; in a re-check, those of the
-- rule's scope, found by record (the index of migration 0006), and for school-level rules (whose findings name no
-- record: their scope is a whole roll, not looked up record by record) by school.
UPDATE quality.finding o
SET    status = CASE WHEN EXISTS (SELECT 1 FROM quality.finding n
                                  WHERE  n.round_id = o.round_id AND n.run_id = @run_id AND n.fingerprint = o.fingerprint
                                    AND  n.record_id IS NOT DISTINCT FROM o.record_id)
                 THEN 'superseded' ELSE 'resolved' END,
       closed_run_id = @run_id
FROM   stage_rule r
WHERE  @whole
  AND  o.round_id = @round_id AND o.rule_id = r.rule_id
  AND  o.status IN ('open', 'confirmed') AND o.run_id <> @run_id;

UPDATE quality.finding o
SET    status = CASE WHEN EXISTS (SELECT 1 FROM quality.finding n
                                  WHERE  n.round_id = o.round_id AND n.run_id = @run_id AND n.fingerprint = o.fingerprint
                                    AND  n.record_id IS NOT DISTINCT FROM o.record_id)
                 THEN 'superseded' ELSE 'resolved' END,
       closed_run_id = @run_id
FROM   stage_rule r JOIN rule_scope s ON s.partner_set = r.partner_set
WHERE  NOT @whole AND NOT r.school_level
  AND  o.round_id = @round_id AND o.record_id = s.record_id AND o.rule_id = r.rule_id
  AND  o.status IN ('open', 'confirmed') AND o.run_id <> @run_id;

UPDATE quality.finding o
SET    status = CASE WHEN EXISTS (SELECT 1 FROM quality.finding n
                                  WHERE  n.round_id = o.round_id AND n.run_id = @run_id AND n.fingerprint = o.fingerprint
                                    AND  n.record_id IS NOT DISTINCT FROM o.record_id)
                 THEN 'superseded' ELSE 'resolved' END,
       closed_run_id = @run_id
FROM   stage_rule r
WHERE  NOT @whole
  AND  r.school_level AND o.round_id = @round_id AND o.record_id IS NULL AND o.rule_id = r.rule_id
  AND  o.school_code IN (SELECT c.school_code FROM scope_school c)
  AND  o.status IN ('open', 'confirmed') AND o.run_id <> @run_id;

-- The values that failed an invalidating rule of this stage are hidden from the later stages (checked_record): the
-- round's current findings of those rules, this run's and, in a re-check, those of the records outside its scope
-- (looked up one record at a time by the index of migration 0006: asked for the round's findings filtered by the
-- scope, the planner read them all; not at all for a stage with no invalidating rule).
INSERT INTO quality.check_failed_field (run_id, record_id, field)
SELECT @run_id, f.record_id, f.field
FROM   quality.finding f
WHERE  @whole AND f.round_id = @round_id AND f.status IN ('open', 'confirmed') AND f.record_id IS NOT NULL
  AND  f.rule_id IN (SELECT r.rule_id FROM stage_rule r WHERE r.invalidates);

INSERT INTO quality.check_failed_field (run_id, record_id, field)
SELECT @run_id, f.record_id, f.field
FROM   (SELECT DISTINCT record_id FROM scope_record WHERE EXISTS (SELECT 1 FROM stage_rule s WHERE s.invalidates)) r
CROSS  JOIN LATERAL (SELECT f.record_id, f.field FROM quality.finding f
                     WHERE  f.round_id = @round_id AND f.record_id = r.record_id
                       AND  f.rule_id IN (SELECT s.rule_id FROM stage_rule s WHERE s.invalidates)
                       AND  f.status IN ('open', 'confirmed') OFFSET 0) f
WHERE  NOT @whole;
