-- id: X01
-- stage: 4
-- severity: error
-- fields: school_code
-- title.en: School code is not an open school of the school master
-- title.zh: 学校标识码不在学校名录中，或该学校已撤销
-- fix.en: Check the school code against the school's registration; if the student attends another school, register them under that school's code. A closed school can have no students.
-- fix.zh: 请核对学校标识码；如学生实际在其他学校就读，请填写该校的标识码。已撤销的学校不能有在校学生。
-- why.en: A child registered under an unknown or closed school is at no school the province knows, so no one is responsible for the child.
-- why.zh: 在未知或已撤销学校名下注册的学生，在全省没有对应的就读学校，无人对其负责。
-- example.wrong: school code 2123999999 (not in the school master)
-- example.right: 2123000001, the code of the school the child attends
-- example.wrong: school code of a school closed last year
-- example.right: the code of the school the child moved to
-- explain: no
-- version: 3
-- Only a code of valid form is looked up (one that failed F09 is hidden by then). A round whose
-- school master was not extracted has nothing to look codes up in: no finding rather than one for every student.
WITH master AS (
    SELECT s.school_code, bool_or(coalesce(s.is_open, false)) AS is_open
    FROM   registry.school s
    WHERE  s.round_id = @round_id AND s.school_code IS NOT NULL
    GROUP  BY s.school_code
)
SELECT c.record_id, NULL::text AS school_code, 'school_code' AS field, c.school_code_raw AS value,
       CASE WHEN m.school_code IS NULL THEN 'not in the school master' ELSE 'school closed' END AS detail,
       NULL::text AS severity
FROM   checked_record c
LEFT   JOIN master m ON m.school_code = c.school_code
WHERE  c.round_id = @round_id
  AND  c.school_code IS NOT NULL
  AND  m.is_open IS NOT TRUE
  AND  EXISTS (SELECT 1 FROM registry.school s WHERE s.round_id = @round_id);
