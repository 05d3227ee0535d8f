-- The worst and the most improved districts and schools: of the rounds that have a snapshot of record (as in
-- trend_rounds.sql), the newest and the one before it, in round order. Worst: the highest open errors per 1,000 students
-- in the newest round. Most improved: the largest drop of the problem rate (findings per 1,000 students) from the round
-- before to the newest (units in both rounds only). @district (NULL: the province) narrows it; the @top of each list
-- per level come back, each row with its ranks (NULL where it does not rank). Codes, names and counts only.
-- The snapshot of record and the measures are defined once, in reporting.snapshots_of_record and
-- reporting.measures_of_record (migration 0011_trend_functions.sql), here read for the two rounds only.
WITH newest AS (
    SELECT o.round_id, row_number() OVER (ORDER BY r.round_date DESC, r.round_id DESC) AS age
    FROM   reporting.snapshots_of_record(NULL) o JOIN registry.round r USING (round_id)
), unit AS (
    SELECT 'district' AS level, m.district_code AS code, n.age, m.students, m.open_errors, m.open_errors_per_1000, m.problems_per_1000
    FROM   newest n CROSS JOIN LATERAL reporting.measures_of_record(n.round_id, @district::text, 'district') m
    WHERE  n.age <= 2 AND m.district_code IS NOT NULL
    UNION ALL
    SELECT 'school', m.school_code, n.age, m.students, m.open_errors, m.open_errors_per_1000, m.problems_per_1000
    FROM   newest n CROSS JOIN LATERAL reporting.measures_of_record(n.round_id, @district::text, 'school') m
    WHERE  n.age <= 2
), paired AS (
    SELECT cur.level, cur.code, cur.students, cur.open_errors, cur.open_errors_per_1000, cur.problems_per_1000,
           prev.problems_per_1000 AS previous_problems_per_1000
    FROM   unit cur LEFT JOIN unit prev ON prev.level = cur.level AND prev.code = cur.code AND prev.age = 2
    WHERE  cur.age = 1
), ranked AS (
    SELECT p.*, p.previous_problems_per_1000 - p.problems_per_1000 AS drop_per_1000,
           row_number() OVER (PARTITION BY p.level ORDER BY p.open_errors_per_1000 DESC NULLS LAST, p.code) AS worst_rank,
           CASE WHEN p.previous_problems_per_1000 IS NOT NULL AND p.problems_per_1000 IS NOT NULL THEN
               row_number() OVER (PARTITION BY p.level, p.previous_problems_per_1000 IS NOT NULL AND p.problems_per_1000 IS NOT NULL
                                  ORDER BY p.previous_problems_per_1000 - p.problems_per_1000 DESC, p.code) END AS improved_rank
    FROM   paired p
), names AS (
    SELECT DISTINCT ON (level, code) level, code, name
    FROM   (SELECT 'district' AS level, s.district_code AS code, s.district_name_raw AS name, s.row_no
            FROM registry.school s JOIN newest n USING (round_id) WHERE n.age = 1 AND s.district_code IS NOT NULL
            UNION ALL
            SELECT 'school', s.school_code, s.school_name_raw, s.row_no
            FROM registry.school s JOIN newest n USING (round_id) WHERE n.age = 1 AND s.school_code IS NOT NULL) named
    ORDER  BY level, code, row_no
)
SELECT k.level, k.code, nm.name, (SELECT round_id FROM newest WHERE age = 1), (SELECT round_id FROM newest WHERE age = 2),
       k.students, k.open_errors, k.open_errors_per_1000, k.problems_per_1000, k.previous_problems_per_1000,
       k.drop_per_1000, k.worst_rank::integer, k.improved_rank::integer
FROM   ranked k LEFT JOIN names nm USING (level, code)
WHERE  k.worst_rank <= @top OR k.improved_rank <= @top
ORDER  BY k.level, k.worst_rank;
