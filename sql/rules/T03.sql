-- id: T03
-- stage: 5
-- severity: warning
-- fields: grade
-- title.en: Grade did not advance since the previous round
-- title.zh: 年级与上一轮相比未升级或倒退
-- fix.en: Check the grade. A student moves up one grade each school year; if the student repeats the year (or went back a grade), confirm the finding.
-- fix.zh: 请核实年级。学生每学年升一个年级；如学生留级或降级，请确认此提示。
-- version: 1
-- Current rows matched with the previous round's row as in T02, both grades present: the grade is lower than in the
-- previous round, or a new school year began between the two rounds (September–August) and it is the same.
-- detail gives the previous grade.
-- The rows of both rounds are brought together by one GROUP BY on (school code, student number) rather than a join,
-- so that no plan can turn the match into a nested loop over the round.
WITH boundary AS (
    SELECT cur.school_year > prev.school_year AS crossed
    FROM   registry.round cur, registry.round prev
    WHERE  cur.round_id = @round_id AND prev.round_id = @previous_round_id
),
matched AS (
    SELECT array_agg(r.record_id) FILTER (WHERE r.is_current) AS record_ids,
           array_agg(r.grade) FILTER (WHERE r.is_current) AS grades,
           array_agg(r.grade_raw) FILTER (WHERE r.is_current) AS raws,
           (array_agg(r.grade ORDER BY r.record_id) FILTER (WHERE NOT r.is_current))[1] AS previous_grade
    FROM   (SELECT c.record_id, c.school_code, c.student_no, c.grade, c.grade_raw, true AS is_current
            FROM   checked_record c
            WHERE  c.round_id = @round_id
              AND  c.school_code ~ '^[0-9]{10}$' AND substr(c.school_code, 3, 2) = @province
              AND  c.student_no ~ '^[GLJ][0-9A-Z]{18}$'
            UNION ALL
            SELECT p.record_id, p.school_code, p.student_no, CASE WHEN char_length(p.grade_raw) <= 10 AND p.grade_raw !~ '[\u0001-\u001f\u007f-\u009f\ufffd]' THEN p.grade END, NULL, false
            FROM   registry.current_record p
            WHERE  p.round_id = @previous_round_id
              AND  p.school_code ~ '^[0-9]{10}$' AND substr(p.school_code, 3, 2) = @province
              AND  p.student_no ~ '^[GLJ][0-9A-Z]{18}$'
              AND  char_length(p.school_code_raw) <= 10 AND char_length(p.student_no_raw) <= 19
              AND  p.school_code_raw !~ '[\u0001-\u001f\u007f-\u009f\ufffd]' AND p.student_no_raw !~ '[\u0001-\u001f\u007f-\u009f\ufffd]') r
    GROUP  BY r.school_code, r.student_no
    HAVING bool_or(r.is_current) AND bool_or(NOT r.is_current)
)
SELECT u.record_id, NULL::text AS school_code, 'grade' AS field, u.value,
       'previous round grade ' || m.previous_grade AS detail, NULL::text AS severity
FROM   matched m
CROSS  JOIN boundary b
CROSS  JOIN LATERAL unnest(m.record_ids, m.grades, m.raws) AS u (record_id, grade, value)
WHERE  u.grade < m.previous_grade OR (b.crossed AND u.grade = m.previous_grade);
