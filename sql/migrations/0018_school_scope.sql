-- 0018 one school → district mapping, and one scope rule over it (issue 16, item 13). Which district a school belongs
-- to was worked out in several places: the lowest district code of the round's master rows, "any row of any master",
-- the first row of the newest master; a school listed twice, or moved by a newer master, was in scope of different
-- districts on different paths. Now:
--
--   access.school_district   the mapping: each school code of the NEWEST school master (the newest round, by date then
--                            id, that has one) with its district. A school that master lists under two districts, or
--                            under none, has no district (NULL): only the data team acts for it until the master says.
--                            A school that master does not list has no row, and so no district either.
--   access.may_act_for(...)  whether an account (its role, school, district) may read and act for a school: the data
--                            team every school, a school account its own, a district account the schools the mapping
--                            puts in its district, a manager none. Every scoped query of the portal, the ingest and the
--                            lineage calls it; nothing else decides a district.
--
-- The mapping is the newest one for every round, the rounds before included: a district office answers for the schools
-- it has now, so a school moved by the newest master is read, approved, uploaded for and traced by its new district
-- only. Aggregate trends keep the district each snapshot recorded (they are counts, not a scope check).
-- The newest round with a master is found by probing the rounds newest first (a scalar subquery with LIMIT 1, which the
-- planner keeps as a probe of the (round_id, school_code) index): written as EXISTS it became a semi-join that read and
-- grouped every master row of every round on each lookup (0.29 ms a school on the demo's 400 schools, now 0.07 ms).
CREATE VIEW access.school_district AS
WITH master AS (
    SELECT r.round_id FROM registry.round r
    WHERE  (SELECT true FROM registry.school s WHERE s.round_id = r.round_id LIMIT 1)
    ORDER  BY r.round_date DESC, r.round_id DESC
    LIMIT  1)
SELECT s.school_code,
       CASE WHEN count(*) FILTER (WHERE s.district_code IS NULL) = 0 AND min(s.district_code) = max(s.district_code)
            THEN min(s.district_code) END AS district_code
FROM   registry.school s JOIN master m ON m.round_id = s.round_id
WHERE  s.school_code IS NOT NULL
GROUP  BY s.school_code;

COMMENT ON VIEW access.school_district IS
    'The one school → district mapping (0018): the newest school master''s; NULL where it names no district or two.';

-- A SQL function of one expression (not inlined, because of its sub-select: about 0.06 ms a row on the demo's data, so a
-- district's list of a few hundred schools costs a few ms more).
CREATE FUNCTION access.may_act_for(p_role text, p_school text, p_district text, p_school_code text)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(CASE p_role
        WHEN 'data_team' THEN true
        WHEN 'school'    THEN p_school_code = p_school
        WHEN 'district'  THEN EXISTS (SELECT 1 FROM access.school_district d
                                      WHERE d.school_code = p_school_code AND d.district_code = p_district)
        ELSE false END, false)
$$;

COMMENT ON FUNCTION access.may_act_for(text, text, text, text) IS
    'Whether an account (role, school, district) may read and act for a school (0018): the only scope rule.';

-- The portal's role reads the mapping and calls the rule (granted here by name, not left to default privileges).
GRANT SELECT ON access.school_district TO sdq_app;
GRANT EXECUTE ON FUNCTION access.may_act_for(text, text, text, text) TO sdq_app;
