-- Quality by school, per round (rounds in order), from each round's snapshot of record: the close snapshot of a closed
-- round, else the round's newest live snapshot. @round (NULL: every round) and @district (NULL: the province) narrow it.
-- Codes, names of schools and counts only. The measures are those of trend_rounds.sql, over one school.
-- The snapshot of record and the measures are defined once, in reporting.measures_of_record (migration
-- 0011_trend_functions.sql); this file adds the schools' names.
WITH names AS (
    SELECT DISTINCT ON (s.round_id, s.school_code) s.round_id, s.school_code, s.school_name_raw AS school_name
    FROM   registry.school s JOIN reporting.snapshots_of_record(@round::integer) o USING (round_id)
    WHERE  s.school_code IS NOT NULL
    ORDER  BY s.round_id, s.school_code, s.row_no
)
SELECT r.round_id, r.code, r.round_date, m.district_code, m.school_code, n.school_name,
       m.schools, m.students, m.found, m.resolved, m.open_errors, m.open_warnings, m.schools_issued, m.schools_returned,
       m.median_days_to_return, m.cross_school_duplicates, m.students_without_id,
       m.problems_per_1000, m.open_errors_per_1000, m.fixed_share, m.return_rate
FROM   reporting.measures_of_record(@round::integer, @district::text, 'school') m
JOIN   registry.round r USING (round_id)
LEFT   JOIN names n USING (round_id, school_code)
ORDER  BY r.round_date, r.round_id, m.district_code NULLS LAST, m.school_code;
