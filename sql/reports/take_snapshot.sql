-- A quality snapshot of one round (@round) into the snapshot row @snapshot: aggregates per school and rule, and per
-- school. No personal data leaves the registry: counts, dates and codes only. Run by the snapshot job, live during a
-- round and once at close; trend reports read these tables.
WITH district AS (
    SELECT DISTINCT ON (school_code) school_code, district_code
    FROM   registry.school
    WHERE  round_id = @round AND school_code IS NOT NULL
    ORDER  BY school_code, row_no
)
INSERT INTO reporting.snapshot_rule (snapshot_id, district_code, school_code, rule_id, severity, found, open, resolved, confirmed, removed)
SELECT @snapshot, d.district_code, f.school_code, f.rule_id, f.severity,
       count(*),
       count(*) FILTER (WHERE f.status = 'open'),
       count(*) FILTER (WHERE f.status = 'resolved'),
       count(*) FILTER (WHERE f.status = 'confirmed'),
       count(*) FILTER (WHERE f.status = 'removed')
FROM   quality.finding f
LEFT   JOIN district d USING (school_code)
WHERE  f.round_id = @round AND f.status <> 'superseded' AND f.school_code IS NOT NULL
GROUP  BY d.district_code, f.school_code, f.rule_id, f.severity;

WITH district AS (
    SELECT DISTINCT ON (school_code) school_code, district_code
    FROM   registry.school
    WHERE  round_id = @round AND school_code IS NOT NULL
    ORDER  BY school_code, row_no
), students AS (
    SELECT school_code, count(*) AS students,
           count(*) FILTER (WHERE id_type = 'Z' OR id_number IS NULL) AS without_id
    FROM   registry.current_record
    WHERE  round_id = @round AND school_code IS NOT NULL
    GROUP  BY school_code
), open_findings AS (
    SELECT school_code,
           count(*) FILTER (WHERE severity = 'error') AS errors,
           count(*) FILTER (WHERE severity = 'warning') AS warnings,
           count(DISTINCT record_id) FILTER (WHERE rule_id = 'X03') AS duplicates
    FROM   quality.finding
    WHERE  round_id = @round AND status = 'open' AND school_code IS NOT NULL
    GROUP  BY school_code
), sheets AS (
    SELECT school_code, min(issued_at) AS first_issued_at, max(deadline) AS deadline
    FROM   exchange.worksheet
    WHERE  round_id = @round
    GROUP  BY school_code
), returns AS (
    SELECT school_code, min(received_at) AS first_returned_at, count(*) AS returns
    FROM   exchange.worksheet_return
    WHERE  round_id = @round
    GROUP  BY school_code
), schools AS (
    SELECT school_code FROM district
    UNION
    SELECT school_code FROM students
)
INSERT INTO reporting.snapshot_school (snapshot_id, district_code, school_code, students, students_without_id, cross_school_duplicates,
                                       open_errors, open_warnings, first_issued_at, deadline, first_returned_at, returns)
SELECT @snapshot, d.district_code, s.school_code,
       coalesce(st.students, 0), coalesce(st.without_id, 0), coalesce(o.duplicates, 0),
       coalesce(o.errors, 0), coalesce(o.warnings, 0),
       w.first_issued_at, w.deadline, r.first_returned_at, coalesce(r.returns, 0)
FROM   schools s
LEFT   JOIN district d USING (school_code)
LEFT   JOIN students st USING (school_code)
LEFT   JOIN open_findings o USING (school_code)
LEFT   JOIN sheets w USING (school_code)
LEFT   JOIN returns r USING (school_code);
