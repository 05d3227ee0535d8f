-- The rounds of each district in @codes (a bounded selection), in district then round order, from each round's snapshot
-- of record: one small chart per district. @district narrows it to one district (a district account's own). Codes, names
-- of districts and counts only; a district's name is the one of the newest round that lists it.
WITH names AS (
    SELECT DISTINCT ON (s.district_code) s.district_code, s.district_name_raw AS district_name
    FROM   registry.school s JOIN registry.round r USING (round_id)
    WHERE  s.district_code = ANY(@codes::text[])
    ORDER  BY s.district_code, r.round_date DESC, r.round_id DESC, s.row_no
)
SELECT r.round_id, r.code, r.round_date, m.district_code, n.district_name,
       m.schools, m.students, m.found, m.resolved, m.open_errors, m.open_warnings, m.schools_issued, m.schools_returned,
       m.median_days_to_return, m.cross_school_duplicates, m.students_without_id,
       m.problems_per_1000, m.open_errors_per_1000, m.fixed_share, m.return_rate
FROM   reporting.measures_of_record(NULL::integer, @district::text, 'district') m
JOIN   registry.round r USING (round_id)
LEFT   JOIN names n USING (district_code)
WHERE  m.district_code = ANY(@codes::text[])
ORDER  BY array_position(@codes::text[], m.district_code), r.round_date, r.round_id;
