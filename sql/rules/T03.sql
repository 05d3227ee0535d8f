-- id: T03
-- stage: 5
-- severity: warning
-- fields: grade
-- title.en: Grade did not advance since the previous round
-- title.zh: 年级与上一轮相比未升级或倒退
-- fix.en: Check the grade. A student moves up one grade each school year; if the student repeats the year (or went back a grade), confirm the finding.
-- fix.zh: 请核实年级。学生每学年升一个年级；如学生留级或降级，请确认此提示。
-- version: 4
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
           CASE WHEN NOT coalesce(p.bad_text_fields && '{grade}', false) THEN p.grade END AS grade
    FROM   checked_source p
    WHERE  p.round_id = @previous_round_id
      -- F09, F01 and S02 as the facts noted when the version was written say them.
      AND  p.school_code_shape_ok AND substr(p.school_code, 3, 2) = @province
      AND  p.student_no_shape_ok
      AND  NOT coalesce(p.bad_text_fields && '{school_code,student_no}', false)
    ORDER  BY p.school_code, p.student_no, p.record_id
)
SELECT c.record_id, NULL::text AS school_code, 'grade' AS field, c.grade_raw AS value,
       'previous round grade ' || p.grade AS detail, NULL::text AS severity
FROM   checked_record c
JOIN   first_previous p ON p.school_code = c.school_code AND p.student_no = c.student_no
CROSS  JOIN boundary b
WHERE  c.round_id = @round_id
  AND  (c.grade < p.grade OR (b.crossed AND c.grade = p.grade));
