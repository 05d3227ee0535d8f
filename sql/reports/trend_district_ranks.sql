-- The districts of a round ranked by open errors per 1,000 students: the @top worst (rank from the highest) and the @top
-- best (rank from the lowest, the worst ones left out, so that a district is in one list only when there are fewer than
-- 2 × @top), and, apart, every group that is not a district (schools outside the school master: a NULL code), which is
-- never ranked among the districts. A district without students has no figure and is not ranked. @district narrows it
-- to one district. Each row says its list ('worst', 'best', 'apart'), its rank, and how many districts were ranked.
WITH names AS (
    SELECT DISTINCT ON (s.district_code) s.district_code, s.district_name_raw AS district_name
    FROM   registry.school s
    WHERE  s.round_id = @round AND s.district_code IS NOT NULL
    ORDER  BY s.district_code, s.row_no
), measured AS (
    SELECT r.round_id, r.code, r.round_date, m.district_code, n.district_name,
           m.schools, m.students, m.found, m.resolved, m.open_errors, m.open_warnings, m.schools_issued, m.schools_returned,
           m.median_days_to_return, m.cross_school_duplicates, m.students_without_id,
           m.problems_per_1000, m.open_errors_per_1000, m.fixed_share, m.return_rate
    FROM   reporting.measures_of_record(@round::integer, @district::text, 'district') m
    JOIN   registry.round r USING (round_id)
    LEFT   JOIN names n USING (district_code)
), ranked AS (
    SELECT d.*,
           row_number() OVER (ORDER BY d.open_errors_per_1000 DESC, d.district_code) AS worst_rank,
           row_number() OVER (ORDER BY d.open_errors_per_1000 ASC, d.district_code DESC) AS best_rank,
           count(*) OVER ()::integer AS ranked
    FROM   measured d
    WHERE  d.district_code IS NOT NULL AND d.open_errors_per_1000 IS NOT NULL
)
SELECT *
FROM (
    SELECT CASE WHEN k.worst_rank <= @top THEN 'worst' ELSE 'best' END AS list,
           CASE WHEN k.worst_rank <= @top THEN k.worst_rank ELSE k.best_rank END::integer AS rank, k.ranked,
           k.round_id, k.code, k.round_date, k.district_code, k.district_name,
           k.schools, k.students, k.found, k.resolved, k.open_errors, k.open_warnings, k.schools_issued, k.schools_returned,
           k.median_days_to_return, k.cross_school_duplicates, k.students_without_id,
           k.problems_per_1000, k.open_errors_per_1000, k.fixed_share, k.return_rate
    FROM   ranked k
    WHERE  k.worst_rank <= @top OR k.best_rank <= @top
    UNION ALL
    SELECT 'apart', 0, NULL,
           a.round_id, a.code, a.round_date, a.district_code, a.district_name,
           a.schools, a.students, a.found, a.resolved, a.open_errors, a.open_warnings, a.schools_issued, a.schools_returned,
           a.median_days_to_return, a.cross_school_duplicates, a.students_without_id,
           a.problems_per_1000, a.open_errors_per_1000, a.fixed_share, a.return_rate
    FROM   measured a
    WHERE  a.district_code IS NULL
) x
-- The chart's order: from the worst down to the best, then the groups apart.
ORDER  BY CASE x.list WHEN 'worst' THEN 0 WHEN 'best' THEN 1 ELSE 2 END,
          CASE WHEN x.list = 'worst' THEN x.rank END, CASE WHEN x.list = 'best' THEN x.rank END DESC;
