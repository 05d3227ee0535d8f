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
WITH boundary AS (
    SELECT cur.school_year > prev.school_year AS crossed
    FROM   registry.round cur, registry.round prev
    WHERE  cur.round_id = @round_id AND prev.round_id = @previous_round_id
),
previous_row AS (
    SELECT p.record_id, p.school_code, p.student_no
    FROM   registry.current_record p
    WHERE  p.round_id = @previous_round_id
      AND  p.school_code ~ '^[0-9]{10}$' AND substr(p.school_code, 3, 2) = @province
      AND  p.student_no ~ '^[GLJ][0-9A-Z]{18}$'
      AND  char_length(p.school_code_raw) <= 10 AND char_length(p.student_no_raw) <= 19
      AND  p.school_code_raw !~ '[\u0001-\u001f\u007f-\u009f\ufffd]' AND p.student_no_raw !~ '[\u0001-\u001f\u007f-\u009f\ufffd]'
),
previous AS (
    SELECT p.school_code, p.student_no, p.grade
    FROM   registry.current_record p
    JOIN   (SELECT min(record_id) AS record_id FROM previous_row GROUP BY school_code, student_no) f ON f.record_id = p.record_id
    WHERE  p.round_id = @previous_round_id
      AND  p.grade IS NOT NULL
      AND  char_length(p.grade_raw) <= 10 AND p.grade_raw !~ '[\u0001-\u001f\u007f-\u009f\ufffd]'
)
SELECT c.record_id, NULL::text AS school_code, 'grade' AS field, c.grade_raw AS value,
       'previous round grade ' || p.grade AS detail, NULL::text AS severity
FROM   checked_record c
JOIN   previous p ON p.school_code = c.school_code AND p.student_no = c.student_no
CROSS  JOIN boundary b
WHERE  c.round_id = @round_id
  AND  c.school_code ~ '^[0-9]{10}$' AND substr(c.school_code, 3, 2) = @province
  AND  c.student_no ~ '^[GLJ][0-9A-Z]{18}$'
  AND  c.grade IS NOT NULL
  AND  (c.grade < p.grade OR (b.crossed AND c.grade = p.grade));
