-- One page of a round's districts (schools outside the school master, which have no district, are left out: the page
-- shows them apart), found by @search (a district code's start, or any part of its name; NULL: every district), sorted by
-- @sort (one of a fixed list; anything else sorts by code) in the direction @descending, then by code; @limit rows from
-- @offset. Each row carries the number of districts found (total), so that the page knows its pages without a second read.
-- @district narrows it to one district (a district account's own). Codes, names of districts and counts only.
WITH names AS (
    SELECT DISTINCT ON (s.district_code) s.district_code, s.district_name_raw AS district_name
    FROM   registry.school s
    WHERE  s.round_id = @round AND s.district_code IS NOT NULL
    ORDER  BY s.district_code, s.row_no
), found AS (
    SELECT r.round_id, r.code, r.round_date, m.district_code, n.district_name,
           m.schools, m.students, m.found, m.resolved, m.open_errors, m.open_warnings, m.schools_issued, m.schools_returned,
           m.median_days_to_return, m.cross_school_duplicates, m.students_without_id,
           m.problems_per_1000, m.open_errors_per_1000, m.fixed_share, m.return_rate,
           CASE @sort::text WHEN 'schools' THEN m.schools::float8 WHEN 'students' THEN m.students::float8
                            WHEN 'problems' THEN m.problems_per_1000 WHEN 'open' THEN m.open_errors_per_1000
                            WHEN 'fixed' THEN m.fixed_share WHEN 'returned' THEN m.return_rate END AS figure
    FROM   reporting.measures_of_record(@round::integer, @district::text, 'district') m
    JOIN   registry.round r USING (round_id)
    LEFT   JOIN names n USING (district_code)
    WHERE  m.district_code IS NOT NULL
      AND  (@search::text IS NULL OR starts_with(m.district_code, @search::text)
            OR strpos(lower(coalesce(n.district_name, '')), lower(@search::text)) > 0)
)
SELECT f.round_id, f.code, f.round_date, f.district_code, f.district_name,
       f.schools, f.students, f.found, f.resolved, f.open_errors, f.open_warnings, f.schools_issued, f.schools_returned,
       f.median_days_to_return, f.cross_school_duplicates, f.students_without_id,
       f.problems_per_1000, f.open_errors_per_1000, f.fixed_share, f.return_rate,
       count(*) OVER ()::integer AS total
FROM   found f
ORDER  BY CASE WHEN @sort::text = 'name' AND NOT @descending THEN f.district_name END ASC NULLS LAST,
          CASE WHEN @sort::text = 'name' AND @descending THEN f.district_name END DESC NULLS LAST,
          CASE WHEN NOT @descending THEN f.figure END ASC NULLS LAST,
          CASE WHEN @descending THEN f.figure END DESC NULLS LAST,
          CASE WHEN @sort::text = 'code' AND @descending THEN f.district_code END DESC,
          f.district_code
LIMIT  @limit OFFSET @offset;
