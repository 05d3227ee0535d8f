-- id: A01
-- stage: school
-- severity: error
-- fields: school_code
-- title.en: An open school has no students in this round
-- title.zh: 开办中的学校本轮没有学生数据
-- fix.en: Submit the school's student registrations for this round; if the school has closed or merged, have the school master updated.
-- fix.zh: 请报送本校本轮的学籍数据；如学校已撤销或合并，请更新学校名录。
-- why.en: An open school with no students means its children are missing from the province's data, unless the school has really closed.
-- why.zh: 开办中的学校没有学生，意味着其学生在全省数据中缺失，除非学校确已撤销。
-- example.wrong: school 2123000001, open, no students in this round
-- example.right: the school's registrations submitted for this round
-- example.wrong: school 2123000002, merged into 2123000001 in the summer, no students
-- example.right: the school master updated to closed, or the finding explained
-- explain: yes
-- version: 3
-- partners: school_code
-- A school-level finding: record_id NULL, school_code the school's code, value the code as the master writes it.
-- A school's rows are the round's rows whose normalised school code is the school's.
WITH open_school AS (
    SELECT s.school_code, min(s.school_code_raw) AS school_code_raw
    FROM   registry.school s
    WHERE  s.round_id = @round_id AND s.is_open AND s.school_code IS NOT NULL
    GROUP  BY s.school_code
),
enrolled AS (
    SELECT c.school_code FROM checked_record c WHERE c.round_id = @round_id AND c.school_code IS NOT NULL GROUP BY c.school_code
)
SELECT NULL::bigint AS record_id, s.school_code, 'school_code' AS field, s.school_code_raw AS value,
       'no students' AS detail, NULL::text AS severity
FROM   open_school s
LEFT   JOIN enrolled e ON e.school_code = s.school_code
WHERE  e.school_code IS NULL;
