-- The problem list (docs/exports.md, "The problem list"): a round's OPEN findings of a scope, one row per finding, in
-- school, student number, rule order. "Open" is what the school's page and the worksheets mean by it: a finding of the
-- round whose status is 'open' (quality.finding.status; it leaves 'open' when a re-check no longer finds it, a return
-- confirms or removes it, or a later run supersedes it).
-- Scope: the one rule, access.may_act_for, asked once per school that has an open finding (a few thousand calls at
-- province size, not one per finding), with the school -> district mapping it decides by (access.school_district).
-- The first row (ordinal 0) says whether the round exists and whether the reader may take the scope asked for at all,
-- so that a district asking for another district's list is refused rather than handed an empty file; the rows follow.
-- Name, grade and class are the record's current version (of this round, or of the previous round for a student absent
-- now, as the worksheets show them); the school's name is the round's school master's.
-- Parameters: @round_id; @role, @school, @district (the reader); @scope_district, @scope_school (NULL: not narrowed;
-- both NULL: the province).
WITH round AS (
    SELECT r.round_id, r.previous_round_id FROM registry.round r WHERE r.round_id = @round_id),
verdict AS (
    SELECT EXISTS (SELECT 1 FROM round) AS round_found,
           CASE
             WHEN @role NOT IN ('data_team', 'district') THEN false
             WHEN @scope_school::text IS NOT NULL THEN access.may_act_for(@role, @school, @district, @scope_school)
             WHEN @scope_district::text IS NOT NULL THEN @role = 'data_team' OR @district::text IS NOT DISTINCT FROM @scope_district
             ELSE @role = 'data_team'
           END AS in_scope),
schools AS MATERIALIZED (
    SELECT DISTINCT f.school_code FROM quality.finding f WHERE f.round_id = @round_id AND f.status = 'open'),
allowed AS MATERIALIZED (
    SELECT coalesce(s.school_code, '') AS school_key, s.school_code, d.district_code
    FROM   schools s CROSS JOIN verdict v
    LEFT   JOIN access.school_district d ON d.school_code = s.school_code
    WHERE  v.in_scope
      AND  access.may_act_for(@role, @school, @district, s.school_code)
      AND  (@scope_district::text IS NULL OR d.district_code = @scope_district)
      AND  (@scope_school::text IS NULL OR s.school_code = @scope_school)),
names AS MATERIALIZED (
    SELECT m.school_code, min(btrim(m.school_name_raw, E' \t\r\n\u3000\u00a0')) AS school_name
    FROM   registry.school m JOIN allowed a ON a.school_code = m.school_code
    WHERE  m.round_id = @round_id
    GROUP  BY m.school_code)
SELECT l.* FROM (
SELECT v.round_found, v.in_scope, 0 AS ordinal, NULL::text AS district_code, NULL::text AS school_code, NULL::text AS school_name,
       NULL::text AS student_no, NULL::text AS name, NULL::text AS grade, NULL::text AS class_name, NULL::text AS rule_id,
       NULL::text AS title_zh, NULL::text AS title_en, NULL::text AS severity, NULL::text AS field, NULL::text AS value,
       NULL::text AS first_seen, NULL::bigint AS finding_id
FROM   verdict v
UNION  ALL
SELECT true, true, 1, a.district_code, f.school_code, n.school_name,
       f.student_no, r.name, r.grade_raw, r.class_name, f.rule_id,
       q.title_zh, q.title_en, f.severity, f.field, f.value,
       fs.code, f.finding_id
FROM   quality.finding f
JOIN   allowed a ON a.school_key = coalesce(f.school_code, '')
CROSS  JOIN round
LEFT   JOIN names n ON n.school_code = f.school_code
LEFT   JOIN registry.current_record r ON r.record_id = f.record_id AND r.round_id IN (round.round_id, round.previous_round_id)
LEFT   JOIN quality.rule q ON q.rule_id = f.rule_id
LEFT   JOIN registry.round fs ON fs.round_id = f.first_seen_round_id
WHERE  f.round_id = @round_id AND f.status = 'open') l
-- In code order whatever the database's collation (codes and student numbers are ASCII; "C" is also the cheapest sort); a
-- problem of no one student (a school-wide check) first in its school.
ORDER  BY l.ordinal, l.school_code COLLATE "C" NULLS FIRST, l.student_no COLLATE "C" NULLS FIRST, l.rule_id COLLATE "C", l.finding_id;
