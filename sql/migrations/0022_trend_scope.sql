-- 0022 which quality trends an account reads, decided in SQL (issue 17, "access in one place"). The trends are aggregates
-- (counts per round, district and school, as each snapshot recorded them), so their scope is a district, not a school:
--   data_team, manager  the province, or any district they name
--   district            its own district only (asking for another is refused; asking for none reads its own)
--   school, any other   nothing
-- The portal's page filters refuse a school account before any read; this function is what the data layer asks for every
-- read and export of the trends, so that a refusal does not depend on the page that called it.
CREATE FUNCTION access.trend_scope(p_role text, p_district text, p_asked text)
RETURNS TABLE (allowed boolean, district_code text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(CASE p_role
               WHEN 'data_team' THEN true
               WHEN 'manager'   THEN true
               WHEN 'district'  THEN p_district IS NOT NULL AND (p_asked IS NULL OR p_asked = p_district)
               ELSE false END, false),
           CASE p_role WHEN 'district' THEN p_district WHEN 'data_team' THEN p_asked WHEN 'manager' THEN p_asked END
$$;

COMMENT ON FUNCTION access.trend_scope(text, text, text) IS
    'Whether an account (role, district) may read the quality trends of a district asked for (NULL: the province), and which (0022).';

GRANT EXECUTE ON FUNCTION access.trend_scope(text, text, text) TO sdq_app;
