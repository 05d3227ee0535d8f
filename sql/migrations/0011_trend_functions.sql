-- 0011 trend functions: the one definition of the quality trends' snapshot of record and of their measures, which the
-- reports of sql/reports/trend_*.sql read instead of each repeating them (docs/decisions.md, "Quality trends").
--
-- Plain SQL functions, STABLE, neither STRICT nor SECURITY DEFINER and without SET options, so that PostgreSQL inlines
-- them into the report's query (a subquery the planner sees through, not an opaque function call): a report's filters
-- and joins plan as if the text were written out in it. They read as the caller, so sdq_app needs only its SELECT on the
-- tables (0010) and EXECUTE, which 0010's default privileges give it and which is granted below all the same, for a
-- migrating role other than the one that ran 0010.

-- Each round's snapshot of record: the close snapshot of a closed round, else the round's newest live snapshot (latest
-- day, then latest time). A round without a snapshot has no row. p_round NULL: every round.
CREATE FUNCTION reporting.snapshots_of_record(p_round integer)
RETURNS TABLE (round_id integer, snapshot_id bigint, kind text, taken_on date)
LANGUAGE sql STABLE
AS $$
    SELECT DISTINCT ON (q.round_id) q.round_id, q.snapshot_id, q.kind, q.taken_on
    FROM   reporting.quality_snapshot q JOIN registry.round r USING (round_id)
    WHERE  (q.kind = 'live' OR r.status = 'closed') AND (p_round IS NULL OR q.round_id = p_round)
    ORDER  BY q.round_id, q.kind = 'close' DESC, q.taken_on DESC, q.taken_at DESC
$$;

-- Per round and school of the snapshot of record: the snapshot's school row, with the round's findings of the school
-- (found) and of those the resolved ones, 0 where none. p_round NULL: every round; p_district NULL: the province.
CREATE FUNCTION reporting.schools_of_record(p_round integer, p_district text)
RETURNS TABLE (round_id integer, snapshot_id bigint, kind text, taken_on date, district_code text, school_code text,
               students integer, students_without_id integer, cross_school_duplicates integer, open_errors integer,
               open_warnings integer, first_issued_at timestamptz, deadline date, first_returned_at timestamptz,
               returns integer, found bigint, resolved bigint)
LANGUAGE sql STABLE
AS $$
    WITH of_record AS (
        SELECT * FROM reporting.snapshots_of_record(p_round)
    ), found AS (
        SELECT sr.snapshot_id, sr.school_code, sum(sr.found) AS found, sum(sr.resolved) AS resolved
        FROM   of_record o JOIN reporting.snapshot_rule sr USING (snapshot_id)
        GROUP  BY sr.snapshot_id, sr.school_code
    )
    SELECT o.round_id, o.snapshot_id, o.kind, o.taken_on, ss.district_code, ss.school_code,
           ss.students, ss.students_without_id, ss.cross_school_duplicates, ss.open_errors,
           ss.open_warnings, ss.first_issued_at, ss.deadline, ss.first_returned_at,
           ss.returns, coalesce(f.found, 0), coalesce(f.resolved, 0)
    FROM   of_record o
    JOIN   reporting.snapshot_school ss USING (snapshot_id)
    LEFT   JOIN found f USING (snapshot_id, school_code)
    WHERE  p_district IS NULL OR ss.district_code = p_district
$$;

-- The measures of a group of schools in a round (docs/decisions.md, "Quality trends"), grouped p_by 'round' (one row a
-- round), 'district' (a round's districts; schools outside the school master share a NULL district) or 'school'. The
-- codes a grouping does not use are NULL. Rates are NULL where their denominator is zero.
--   problems_per_1000     findings of the round (superseded ones left out, whatever became of them) per 1,000 students
--   open_errors_per_1000  open errors per 1,000 students
--   fixed_share           resolved findings / findings
--   return_rate           schools with at least one return / schools issued a worksheet
--   median_days_to_return median over the schools that returned of the days (fractional) from first issue to first return
--   cross_school_duplicates, students_without_id: as the snapshot counts them (X03 records open; ID type Z or no ID)
CREATE FUNCTION reporting.measures_of_record(p_round integer, p_district text, p_by text)
RETURNS TABLE (round_id integer, kind text, taken_on date, district_code text, school_code text,
               schools integer, students integer, found integer, resolved integer, open_errors integer,
               open_warnings integer, schools_issued integer, schools_returned integer, median_days_to_return float8,
               cross_school_duplicates integer, students_without_id integer, problems_per_1000 float8,
               open_errors_per_1000 float8, fixed_share float8, return_rate float8)
LANGUAGE sql STABLE
AS $$
    SELECT s.round_id, s.kind, s.taken_on,
           CASE WHEN p_by IN ('district', 'school') THEN s.district_code END,
           CASE WHEN p_by = 'school' THEN s.school_code END,
           count(*)::integer,
           sum(s.students)::integer,
           sum(s.found)::integer,
           sum(s.resolved)::integer,
           sum(s.open_errors)::integer,
           sum(s.open_warnings)::integer,
           count(*) FILTER (WHERE s.first_issued_at IS NOT NULL)::integer,
           count(*) FILTER (WHERE s.first_issued_at IS NOT NULL AND s.returns > 0)::integer,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM s.first_returned_at - s.first_issued_at) / 86400)
               FILTER (WHERE s.first_issued_at IS NOT NULL AND s.first_returned_at IS NOT NULL),
           sum(s.cross_school_duplicates)::integer,
           sum(s.students_without_id)::integer,
           sum(s.found) * 1000.0::float8 / nullif(sum(s.students), 0),
           sum(s.open_errors) * 1000.0::float8 / nullif(sum(s.students), 0),
           sum(s.resolved)::float8 / nullif(sum(s.found), 0),
           count(*) FILTER (WHERE s.first_issued_at IS NOT NULL AND s.returns > 0)::float8
               / nullif(count(*) FILTER (WHERE s.first_issued_at IS NOT NULL), 0)
    FROM   reporting.schools_of_record(p_round, p_district) s
    WHERE  p_by IN ('round', 'district', 'school') -- any other p_by: no rows, never a wrong grouping
    GROUP  BY s.round_id, s.kind, s.taken_on,
              CASE WHEN p_by IN ('district', 'school') THEN s.district_code END,
              CASE WHEN p_by = 'school' THEN s.school_code END
$$;

GRANT EXECUTE ON FUNCTION reporting.snapshots_of_record(integer),
                          reporting.schools_of_record(integer, text),
                          reporting.measures_of_record(integer, text, text) TO sdq_app;
