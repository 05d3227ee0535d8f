-- Quality by rule, per round (rounds in order), from each round's snapshot of record (as in trend_rounds.sql). @round
-- (NULL: every round) and @district (NULL: the province) narrow it. problems_per_1000 is the rule's findings per 1,000
-- students of the same scope and round; open_errors counts the rule's open findings of severity error (C04 and C09
-- give a severity per finding). Counts only.
-- The snapshot of record and the scope's students are those of reporting.snapshots_of_record and
-- reporting.measures_of_record (migration 0011_trend_functions.sql); the rates here are over a rule's findings.
WITH students AS (
    SELECT m.round_id, m.students
    FROM   reporting.measures_of_record(@round::integer, @district::text, 'round') m
), by_rule AS (
    SELECT o.round_id, sr.rule_id,
           sum(sr.found) AS found, sum(sr.open) AS open, sum(sr.open) FILTER (WHERE sr.severity = 'error') AS open_errors,
           sum(sr.resolved) AS resolved, sum(sr.confirmed) AS confirmed, sum(sr.removed) AS removed
    FROM   reporting.snapshots_of_record(@round::integer) o JOIN reporting.snapshot_rule sr USING (snapshot_id)
    WHERE  @district::text IS NULL OR sr.district_code = @district
    GROUP  BY o.round_id, sr.rule_id
)
SELECT r.round_id, r.code, r.round_date, b.rule_id, q.severity, q.title_zh, q.title_en,
       b.found::integer, b.open::integer, coalesce(b.open_errors, 0)::integer,
       b.resolved::integer, b.confirmed::integer, b.removed::integer,
       b.found * 1000.0::float8 / nullif(s.students, 0) AS problems_per_1000,
       coalesce(b.open_errors, 0) * 1000.0::float8 / nullif(s.students, 0) AS open_errors_per_1000,
       b.resolved::float8 / nullif(b.found, 0) AS fixed_share
FROM   by_rule b
JOIN   registry.round r USING (round_id)
LEFT   JOIN students s USING (round_id)
LEFT   JOIN quality.rule q USING (rule_id)
ORDER  BY r.round_date, r.round_id, b.rule_id;
