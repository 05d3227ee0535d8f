-- Quality per round (rounds in order), of the province or of one district, from each round's snapshot of record: the
-- close snapshot of a closed round, else the round's newest live snapshot. @round (NULL: every round) and @district
-- (NULL: the province) narrow it.
-- Counts only. Measures (docs/decisions.md, "Quality trends"):
--   problems_per_1000     findings of the round (superseded ones left out, whatever became of them) per 1,000 students
--   open_errors_per_1000  open errors per 1,000 students
--   fixed_share           resolved findings / findings
--   return_rate           schools with at least one return / schools issued a worksheet
--   median_days_to_return median over the schools that returned of the days (fractional) from first issue to first return
--   cross_school_duplicates, students_without_id: as the snapshot counts them (X03 records open; ID type Z or no ID)
WITH of_record AS (
    SELECT DISTINCT ON (q.round_id) q.round_id, q.snapshot_id, q.kind, q.taken_on
    FROM   reporting.quality_snapshot q JOIN registry.round r USING (round_id)
    WHERE  (q.kind = 'live' OR r.status = 'closed') AND (@round::integer IS NULL OR q.round_id = @round)
    ORDER  BY q.round_id, q.kind = 'close' DESC, q.taken_on DESC, q.taken_at DESC
), found AS (
    SELECT sr.snapshot_id, sr.school_code, sum(sr.found) AS found, sum(sr.resolved) AS resolved
    FROM   of_record o JOIN reporting.snapshot_rule sr USING (snapshot_id)
    GROUP  BY sr.snapshot_id, sr.school_code
), school_row AS (
    SELECT o.round_id, ss.*, coalesce(f.found, 0) AS found, coalesce(f.resolved, 0) AS resolved
    FROM   of_record o
    JOIN   reporting.snapshot_school ss USING (snapshot_id)
    LEFT   JOIN found f USING (snapshot_id, school_code)
    WHERE  @district::text IS NULL OR ss.district_code = @district
)
SELECT r.round_id, r.code, r.round_date, o.kind, o.taken_on,
       count(*)::integer AS schools,
       sum(s.students)::integer AS students,
       sum(s.found)::integer AS found,
       sum(s.resolved)::integer AS resolved,
       sum(s.open_errors)::integer AS open_errors,
       sum(s.open_warnings)::integer AS open_warnings,
       count(*) FILTER (WHERE s.first_issued_at IS NOT NULL)::integer AS schools_issued,
       count(*) FILTER (WHERE s.first_issued_at IS NOT NULL AND s.returns > 0)::integer AS schools_returned,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM s.first_returned_at - s.first_issued_at) / 86400)
           FILTER (WHERE s.first_issued_at IS NOT NULL AND s.first_returned_at IS NOT NULL) AS median_days_to_return,
       sum(s.cross_school_duplicates)::integer AS cross_school_duplicates,
       sum(s.students_without_id)::integer AS students_without_id,
       sum(s.found) * 1000.0::float8 / nullif(sum(s.students), 0) AS problems_per_1000,
       sum(s.open_errors) * 1000.0::float8 / nullif(sum(s.students), 0) AS open_errors_per_1000,
       sum(s.resolved)::float8 / nullif(sum(s.found), 0) AS fixed_share,
       count(*) FILTER (WHERE s.first_issued_at IS NOT NULL AND s.returns > 0)::float8
           / nullif(count(*) FILTER (WHERE s.first_issued_at IS NOT NULL), 0) AS return_rate
FROM   school_row s
JOIN   registry.round r USING (round_id)
JOIN   of_record o USING (round_id)
GROUP  BY r.round_id, r.code, r.round_date, o.kind, o.taken_on
ORDER  BY r.round_date, r.round_id;
