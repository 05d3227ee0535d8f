-- id: T01
-- stage: 5
-- severity: warning
-- fields: student_no, school_code
-- title.en: A student of the previous round is missing from this round
-- title.zh: 上一轮在册的学生本轮缺失
-- fix.en: The student with this student number was registered at your school last round and is not in this round. If the student left, transferred or dropped out, record that through the transfer procedure; if the student is still at your school, add the student again with the same student number.
-- fix.zh: 该学籍号的学生上一轮在本校注册，本轮缺失。如学生已转出、退学或离校，请按学籍异动程序办理；如学生仍在本校就读，请以原学籍号补报。
-- why.en: A child who disappears between rounds may have dropped out unnoticed; every child who left must be accounted for.
-- why.zh: 两轮之间消失的学生可能已无声辍学；每名离校学生都必须有去向。
-- example.wrong: G230102201503040023, grade 3 last round, missing from this round (still at the school)
-- example.right: the student in this round's data with G230102201503040023
-- example.wrong: G230103201607210011, grade 2 last round, moved to another school
-- example.right: the transfer recorded, and the finding explained
-- explain: yes
-- version: 6
-- partners: school_code, student_no
-- A previous-round row of a school that is open in this round's master, whose grade is not that school's top grade
-- (graduates leave), with no current row of the same school code and student number (both normalised and of valid
-- form, F09 and F01, in both rounds). The finding points at the previous round's record (record_id unique across
-- rounds), so it carries that student's school and number; value is the student number as written, detail the
-- grade and class it had. The previous round is read from checked_source (the current records of both rounds; in a
-- re-check, those sharing a changed record's school and student number), so its stage 1 checks (S02: control
-- characters, length) are repeated here for the key fields.
-- The two rounds are matched by a hash anti-join (the runner plans rule queries with nested loops off). The conditions
-- on the previous round are written so that the planner can judge them from the statistics (LIKE, IS NOT TRUE; T03).
WITH previous AS (
    SELECT p.record_id, p.school_code, p.student_no, p.student_no_raw,
           CASE WHEN (p.bad_text_fields && '{grade}') IS NOT TRUE THEN p.grade END AS grade, p.class_name
    FROM   checked_source p
    WHERE  p.round_id = @previous_round_id
      -- F09, F01 and S02 as the facts noted when the version was written say them.
      AND  p.school_code_shape_ok AND p.school_code LIKE '__' || @province || '%'
      AND  p.student_no_shape_ok
      AND  (p.bad_text_fields && '{school_code,student_no}') IS NOT TRUE
),
missing AS (
    SELECT p.school_code, array_agg(p.record_id) AS ids, array_agg(p.student_no_raw) AS raws, array_agg(p.grade) AS grades,
           array_agg(p.class_name) AS classes
    FROM   previous p
    WHERE  NOT EXISTS (SELECT 1 FROM checked_record c
                       WHERE  c.round_id = @round_id AND c.school_code = p.school_code AND c.student_no = p.student_no)
    GROUP  BY p.school_code
)
SELECT u.record_id, m.school_code, 'student_no' AS field, u.value,
       concat_ws(', ', 'previous round: grade ' || coalesce(u.grade::text, '?'), u.class_name) AS detail,
       NULL::text AS severity
FROM   missing m
JOIN   LATERAL (SELECT max(s.max_grade) AS max_grade FROM registry.school s
                WHERE  s.round_id = @round_id AND s.is_open AND s.school_code = m.school_code
                HAVING count(*) > 0) s ON true
CROSS  JOIN LATERAL unnest(m.ids, m.raws, m.grades, m.classes) AS u (record_id, value, grade, class_name)
WHERE  u.grade IS DISTINCT FROM s.max_grade;
