-- Quality per round (rounds in order), of the province or of one district, from each round's snapshot of record: the
-- close snapshot of a closed round, else the round's newest live snapshot. @round (NULL: every round) and @district
-- (NULL: the province) narrow it. Counts only.
-- The snapshot of record and the measures are defined once, in reporting.measures_of_record (migration
-- 0011_trend_functions.sql, which lists what each measure is; docs/decisions.md, "Quality trends").
SELECT r.round_id, r.code, r.round_date, m.kind, m.taken_on,
       m.schools, m.students, m.found, m.resolved, m.open_errors, m.open_warnings, m.schools_issued, m.schools_returned,
       m.median_days_to_return, m.cross_school_duplicates, m.students_without_id,
       m.problems_per_1000, m.open_errors_per_1000, m.fixed_share, m.return_rate
FROM   reporting.measures_of_record(@round::integer, @district::text, 'round') m
JOIN   registry.round r USING (round_id)
ORDER  BY r.round_date, r.round_id;
