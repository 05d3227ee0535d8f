-- 0027 cases (issue 21): a problem that survived the round it was first seen in. Cases are derived from the findings
-- at read time (no table to keep in step with them), so a re-check changes them exactly as a full run would.
-- docs/cases.md says what a case is, its age, its owner and when it closes.

-- The cases of a round: one row per fingerprint (rule, school, student number, field).
-- Open cases (p_closed false): the round's open findings whose problem was first seen in an earlier round.
-- Closed cases (p_closed true): problems that were cases and are no longer open in the round: a finding of the round
-- first seen earlier that is resolved, confirmed or removed, or an open case of the previous round that the round did
-- not find again at all ('not-found').
-- rounds_open counts the rounds from the first one to this one along previous_round_id, both included (2: "second round
-- open"); days_open runs from the first round's round date to p_today; days_past_deadline from this round's deadline
-- (registry.round_run; 0 for a round not run by the jobs, or before its deadline) to p_today.
-- The owner: the school; the district once rounds_open > p_district_rounds or days_past_deadline > p_district_days; the
-- data team once rounds_open > p_team_rounds or days_past_deadline > p_team_days.
-- One scan of the round's findings partition (and the previous round's, for closed cases), the rest by the fingerprint
-- index of each partition (migrations 0002 and 0006). The rounds are named by the parameter (and, for the previous round,
-- a sub-select) rather than joined, so that only their partitions are read (pruned when the plan starts).
CREATE FUNCTION quality.round_cases(p_round_id integer, p_today date, p_district_rounds integer, p_district_days integer,
                                    p_team_rounds integer, p_team_days integer, p_closed boolean)
RETURNS TABLE (case_id bigint, fingerprint text, rule_id text, school_code text, district_code text, student_no text, field text,
               value text, status text, first_round_id integer, first_round_code text, first_round_date date, rounds_open integer,
               days_open integer, days_past_deadline integer, owner text)
LANGUAGE sql STABLE AS $$
WITH RECURSIVE chain AS (
    SELECT r.round_id, r.previous_round_id, 1 AS depth
    FROM   registry.round r
    WHERE  r.round_id = p_round_id
    UNION ALL
    SELECT p.round_id, p.previous_round_id, c.depth + 1
    FROM   chain c JOIN registry.round p ON p.round_id = c.previous_round_id
    WHERE  c.depth < 1000
), asked AS (
    SELECT c.round_id, c.previous_round_id, greatest(0, coalesce(p_today - rr.deadline, 0)) AS days_past_deadline
    FROM   chain c LEFT JOIN registry.round_run rr ON rr.round_id = c.round_id
    WHERE  c.depth = 1
), open_cases AS (
    SELECT DISTINCT ON (f.fingerprint) f.finding_id, f.fingerprint, f.rule_id, f.school_code, f.student_no, f.field, f.value,
           f.status, f.first_seen_round_id
    FROM   quality.finding f
    WHERE  NOT p_closed AND f.round_id = p_round_id AND f.status = 'open' AND f.first_seen_round_id <> p_round_id
    ORDER  BY f.fingerprint, f.finding_id
), closed_cases AS (
    SELECT DISTINCT ON (x.fingerprint) x.*
    FROM  (SELECT f.finding_id, f.fingerprint, f.rule_id, f.school_code, f.student_no, f.field, f.value, f.status, f.first_seen_round_id
           FROM   quality.finding f
           WHERE  p_closed AND f.round_id = p_round_id AND f.status IN ('resolved', 'confirmed', 'removed') AND f.first_seen_round_id <> p_round_id
           UNION ALL
           SELECT p.finding_id, p.fingerprint, p.rule_id, p.school_code, p.student_no, p.field, p.value, 'not-found', p.first_seen_round_id
           FROM   quality.finding p
           WHERE  p_closed AND p.round_id = (SELECT r.previous_round_id FROM registry.round r WHERE r.round_id = p_round_id)
             AND  p.status = 'open' AND p.first_seen_round_id <> p.round_id
             AND  NOT EXISTS (SELECT 1 FROM quality.finding n
                              WHERE n.round_id = p_round_id AND n.fingerprint = p.fingerprint AND n.status <> 'superseded')) x
    WHERE  NOT EXISTS (SELECT 1 FROM quality.finding o WHERE o.round_id = p_round_id AND o.fingerprint = x.fingerprint AND o.status = 'open')
    ORDER  BY x.fingerprint, x.finding_id DESC
), found AS (
    SELECT * FROM open_cases
    UNION ALL
    SELECT * FROM closed_cases
), districts AS (
    SELECT DISTINCT ON (s.school_code) s.school_code, s.district_code
    FROM   registry.school s
    WHERE  s.round_id = p_round_id AND s.school_code IS NOT NULL AND s.district_code IS NOT NULL
    ORDER  BY s.school_code, s.row_no
), aged AS (
    SELECT k.*, coalesce(ch.depth, 2) AS rounds_open, fr.code AS first_round_code, fr.round_date AS first_round_date,
           greatest(0, p_today - fr.round_date) AS days_open, a.days_past_deadline
    FROM   found k CROSS JOIN asked a
    JOIN   registry.round fr ON fr.round_id = k.first_seen_round_id
    LEFT   JOIN chain ch ON ch.round_id = k.first_seen_round_id
)
SELECT g.finding_id, g.fingerprint, g.rule_id, g.school_code, d.district_code, g.student_no, g.field, g.value, g.status,
       g.first_seen_round_id, g.first_round_code, g.first_round_date, g.rounds_open, g.days_open, g.days_past_deadline,
       CASE WHEN g.rounds_open > p_team_rounds OR g.days_past_deadline > p_team_days THEN 'data-team'
            WHEN g.rounds_open > p_district_rounds OR g.days_past_deadline > p_district_days THEN 'district'
            ELSE 'school' END
FROM   aged g
LEFT   JOIN districts d ON d.school_code = g.school_code
$$;
