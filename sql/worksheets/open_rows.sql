-- The rows of the problem worksheets of a round: every open finding about a record (of this round, or a previous-round
-- record for a student absent now), with the school's name and district from the round's school master and the
-- record's current version as a JSON object (its raw values are what the worksheet shows). Ordered by school, so that
-- the worksheets can be written one school at a time as the rows stream in.
-- Parameters: @round_id, @previous_round_id (NULL when none), @school (NULL: all), @district (NULL: all).
SELECT f.school_code, coalesce(m.school_name, '') AS school_name, coalesce(m.district_code, '') AS district_code,
       coalesce(m.district_name, '') AS district_name,
       f.finding_id, f.rule_id, f.severity, f.field, f.value, f.detail, f.record_id, r.version AS record_version,
       to_jsonb(r) AS record
FROM   quality.finding f
-- The record is looked up by its id for each finding (OFFSET 0 keeps the planner from making it a join): as a join, the
-- planner took one school's 17 findings for 500,000 rows and read the round's findings in record order to spare a
-- sort (57 ms), or started a parallel worker (8 ms); looked up, 0.6 ms. The round's worksheet jobs ask this once per
-- school. For the whole round (one query, streamed while the workbooks are written) the lookups cost about 2 s more
-- than a hash join on 3,000,000 records.
CROSS  JOIN LATERAL (SELECT r.* FROM registry.current_record r
                     WHERE  r.round_id IN (@round_id, @previous_round_id) AND r.record_id = f.record_id OFFSET 0) r
LEFT   JOIN LATERAL (SELECT min(btrim(s.school_name_raw, E' \t\r\n\u3000\u00a0')) AS school_name, min(s.district_code) AS district_code,
                            min(btrim(s.district_name_raw, E' \t\r\n\u3000\u00a0')) AS district_name
                     FROM   registry.school s
                     WHERE  s.round_id = @round_id AND s.school_code = f.school_code) m ON true
WHERE  f.round_id = @round_id
  AND  f.status = 'open'
  AND  f.record_id IS NOT NULL
  AND  f.school_code IS NOT NULL
  AND  (@school::text IS NULL OR f.school_code = @school)
  AND  (@district::text IS NULL OR m.district_code = @district)
ORDER  BY f.school_code, f.record_id, f.finding_id;
