-- id: A02
-- stage: school
-- severity: warning
-- fields: school_code
-- title.en: The school's number of students changed by more than 20% since the previous round
-- title.zh: 学校在籍学生数与上一轮相比变化超过20%
-- fix.en: Check that every student of the school is in this round's data and that no student is registered twice; if the change is real (for example a large graduating class), confirm the finding.
-- fix.zh: 请核实本校学生是否全部报送、有无重复注册；如人数变化属实（例如毕业生较多），请确认此提示。
-- why.en: A large change in a school's numbers often means students were left out or registered twice; a real change is confirmed.
-- why.zh: 学校人数大幅变化常意味着漏报或重复注册；变化属实的请确认。
-- example.wrong: previous round 400 students, now 250 (one grade's sheet not submitted)
-- example.right: previous round 400 students, now 390
-- example.wrong: previous round 400 students, now 300 (a large class graduated)
-- example.right: kept, finding confirmed: 120 graduates, 20 new students
-- explain: yes
-- version: 3
-- partners: school_code
-- Open schools of this round's master with rows in the previous round: |current − previous| > 20% of previous
-- (in whole numbers: 5 × |difference| > previous). detail gives both counts. The previous round's rows are read from
-- checked_source (current records of both rounds; in a re-check, those of the schools re-checked), so that a re-check
-- counts its schools alone.
WITH open_school AS (
    SELECT s.school_code, min(s.school_code_raw) AS school_code_raw
    FROM   registry.school s
    WHERE  s.round_id = @round_id AND s.is_open AND s.school_code IS NOT NULL
    GROUP  BY s.school_code
),
now_count AS (
    SELECT c.school_code, count(*) AS n FROM checked_record c WHERE c.round_id = @round_id GROUP BY c.school_code
),
previous_count AS (
    SELECT p.school_code, count(*) AS n FROM checked_source p WHERE p.round_id = @previous_round_id GROUP BY p.school_code
)
SELECT NULL::bigint AS record_id, s.school_code, 'school_code' AS field, s.school_code_raw AS value,
       'previous round ' || p.n || ' students, now ' || coalesce(c.n, 0) AS detail, NULL::text AS severity
FROM   open_school s
JOIN   previous_count p ON p.school_code = s.school_code
LEFT   JOIN now_count c ON c.school_code = s.school_code
WHERE  5 * abs(coalesce(c.n, 0) - p.n) > p.n;
