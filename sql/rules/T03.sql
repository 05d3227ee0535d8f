-- id: T03
-- stage: 5
-- severity: warning
-- fields: grade
-- title.en: Grade did not advance since the previous round
-- title.zh: 年级与上一轮相比未升级或倒退
-- fix.en: Check the grade. A student moves up one grade each school year; if the student repeats the year (or went back a grade), confirm the finding.
-- fix.zh: 请核实年级。学生每学年升一个年级；如学生留级或降级，请确认此提示。
-- version: 3
-- partners: school_code, student_no
-- Current rows matched with the previous round's row as in T02, both grades present: the grade is lower than in the
-- previous round, or a new school year began between the two rounds (September–August) and it is the same.
-- detail gives the previous grade. The previous round is read from checked_source, as in T02.
-- The two rounds are matched by a hash join (the runner plans rule queries with nested loops off).
WITH boundary AS (
    SELECT cur.school_year > prev.school_year AS crossed
    FROM   registry.round cur, registry.round prev
    WHERE  cur.round_id = @round_id AND prev.round_id = @previous_round_id
),
first_previous AS (
    -- Of several previous rows with one key (a duplicate last round), the first as the file had it.
    SELECT DISTINCT ON (p.school_code, p.student_no) p.school_code, p.student_no,
           CASE WHEN p.grade_raw = p.grade::text OR (char_length(p.grade_raw) <= 10 AND p.grade_raw !~ '[\u0001-\u001f\u007f-\u009f\ufffd]') THEN p.grade END AS grade
    FROM   checked_source p
    WHERE  p.round_id = @previous_round_id
      AND  octet_length(p.school_code) = 10 AND p.school_code ~ '^[0-9]+$' AND substr(p.school_code, 3, 2) = @province
      AND  octet_length(p.student_no) = 19 AND p.student_no ~ '^[GLJ][0-9A-Z]+$'
      -- S02 on the raw texts, which only needs doing where they are not exactly the (valid, plain ASCII) typed value.
      AND  (p.school_code_raw = p.school_code OR (char_length(p.school_code_raw) <= 10 AND p.school_code_raw !~ '[\u0001-\u001f\u007f-\u009f\ufffd]'))
      AND  (p.student_no_raw = p.student_no OR (char_length(p.student_no_raw) <= 19 AND p.student_no_raw !~ '[\u0001-\u001f\u007f-\u009f\ufffd]'))
    ORDER  BY p.school_code, p.student_no, p.record_id
)
SELECT c.record_id, NULL::text AS school_code, 'grade' AS field, c.grade_raw AS value,
       'previous round grade ' || p.grade AS detail, NULL::text AS severity
FROM   checked_record c
JOIN   first_previous p ON p.school_code = c.school_code AND p.student_no = c.student_no
CROSS  JOIN boundary b
WHERE  c.round_id = @round_id
  AND  (c.grade < p.grade OR (b.crossed AND c.grade = p.grade));
