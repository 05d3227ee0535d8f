-- id: T03
-- stage: 5
-- severity: warning
-- fields: grade
-- title.en: Grade did not advance since the previous round
-- title.zh: 年级与上一轮相比未升级或倒退
-- fix.en: Check the grade. A student moves up one grade each school year; if the student repeats the year (or went back a grade), confirm the finding.
-- fix.zh: 请核实年级。学生每学年升一个年级；如学生留级或降级，请确认此提示。
-- why.en: A child moves up a grade each school year; a grade that did not advance is a typing error or a repeated year to confirm.
-- why.zh: 学生每学年升一个年级；未升级可能是录入错误，也可能是需要确认的留级。
-- example.wrong: grade 4 last school year, grade 4 again (typing error)
-- example.right: grade 5
-- example.wrong: grade 5 last school year, grade 3 now
-- example.right: grade 6
-- example.wrong: grade 4 last school year, grade 4 again (the child repeats the year)
-- example.right: grade 4 kept, finding confirmed: repeats the year
-- explain: yes
-- version: 6
-- partners: school_code, student_no
-- Current rows matched with the previous round's row as in T02, both grades present: the grade is lower than in the
-- previous round, or a new school year began between the two rounds (September–August) and it is the same.
-- detail gives the previous grade. The previous round is read from checked_source, as in T02.
-- The two rounds are matched by a hash join (the runner plans rule queries with nested loops off). Which previous
-- row is the first of its key is asked only of the pairs whose grades fail, behind OFFSET 0 so that the planner
-- cannot ask it of every previous row (a lookup by the partition's index): sorting the whole previous round for
-- DISTINCT ON cost more than the rest of the rule (1.6 s of 4.5 on 1,000,000 records). The conditions on the previous
-- round are written so that the planner can judge them from the statistics (LIKE, IS NOT TRUE): substr(…) = @province
-- and NOT coalesce(…) it took for one row in 200 and one in 2, and planned the previous round as a few thousand rows.
WITH boundary AS (
    SELECT cur.school_year > prev.school_year AS crossed
    FROM   registry.round cur, registry.round prev
    WHERE  cur.round_id = @round_id AND prev.round_id = @previous_round_id
),
previous AS (
    SELECT p.record_id, p.school_code, p.student_no,
           CASE WHEN (p.bad_text_fields && '{grade}') IS NOT TRUE THEN p.grade END AS grade
    FROM   checked_source p
    WHERE  p.round_id = @previous_round_id
      -- F09, F01 and S02 as the facts noted when the version was written say them.
      AND  p.school_code_shape_ok AND p.school_code LIKE '__' || @province || '%'
      AND  p.student_no_shape_ok
      AND  (p.bad_text_fields && '{school_code,student_no}') IS NOT TRUE
),
failing AS (
    SELECT c.record_id, c.grade_raw, p.record_id AS previous_id, p.school_code, p.student_no, p.grade AS previous_grade
    FROM   checked_record c
    JOIN   previous p ON p.school_code = c.school_code AND p.student_no = c.student_no
    CROSS  JOIN boundary b
    WHERE  c.round_id = @round_id
      AND  (c.grade < p.grade OR (b.crossed AND c.grade = p.grade))
    OFFSET 0
)
SELECT f.record_id, NULL::text AS school_code, 'grade' AS field, f.grade_raw AS value,
       'previous round grade ' || f.previous_grade AS detail, NULL::text AS severity
FROM   failing f
-- Of several previous rows with one key (a duplicate last round), the first as the file had it.
WHERE  f.previous_id = (SELECT min(q.record_id) FROM checked_source q
                        WHERE  q.round_id = @previous_round_id AND q.school_code = f.school_code AND q.student_no = f.student_no
                          AND  (q.bad_text_fields && '{school_code,student_no}') IS NOT TRUE);
