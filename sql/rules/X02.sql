-- id: X02
-- stage: 4
-- severity: error
-- fields: grade, school_code
-- title.en: The school does not offer this grade
-- title.zh: 该学校未开设此年级
-- fix.en: Check the grade; if it is right, the student belongs to a school that offers this grade (for example the junior or senior secondary school the student moved on to).
-- fix.zh: 请核对年级；如年级无误，说明学生应在开设该年级的学校注册（例如已升入初中或高中）。
-- why.en: A child in a grade the school does not teach is registered at the wrong school or in the wrong grade.
-- why.zh: 学生所在年级是学校未开设的年级，说明学校或年级登记有误。
-- example.wrong: grade 7 at a primary school offering grades 1-6
-- example.right: registered at the junior secondary school the student moved on to
-- example.wrong: grade 11 at a junior secondary school offering grades 7-9 (typed 11 for 初一)
-- example.right: grade 7
-- explain: no
-- version: 3
-- Only open schools of the master (a code that is not one is X01's). detail gives the grades the school offers.
WITH offered AS (
    SELECT s.school_code, min(s.min_grade) AS min_grade, max(s.max_grade) AS max_grade
    FROM   registry.school s
    WHERE  s.round_id = @round_id AND s.is_open AND s.school_code IS NOT NULL
    GROUP  BY s.school_code
)
SELECT c.record_id, NULL::text AS school_code, 'grade' AS field, c.grade_raw AS value,
       'school offers grades ' || o.min_grade || '-' || o.max_grade AS detail, NULL::text AS severity
FROM   checked_record c
JOIN   offered o ON o.school_code = c.school_code
WHERE  c.round_id = @round_id
  AND  c.grade IS NOT NULL
  AND  c.grade NOT BETWEEN o.min_grade AND o.max_grade;
