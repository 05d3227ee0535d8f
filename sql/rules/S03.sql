-- id: S03
-- stage: 1
-- severity: error
-- fields: student_no
-- title.en: The same student number appears more than once in this school
-- title.zh: 本校学籍号重复
-- fix.en: Keep one row per student: delete the duplicate row, or correct the student number of the row that belongs to another student.
-- fix.zh: 每名学生只保留一行：请删除重复的行，或更正属于其他学生那一行的学籍号。
-- why.en: Two rows with one student number make the school's count wrong and leave it unclear which row is the child.
-- why.zh: 同一学籍号出现两行，会使学校人数不准，也无法确定哪一行才是这名学生。
-- example.wrong: G230102201503040023 on two rows of the same school
-- example.right: one row for the student with G230102201503040023
-- example.wrong: G230102201503040023 typed for 李明 and for 王芳 by mistake
-- example.right: 李明 with G230102201503040023, 王芳 with her own student number G230103201607210011
-- explain: no
-- version: 4
-- partners: school_code, student_no
-- invalidates: no
-- Every row of a (school code, student number) pair held by two or more rows, both compared normalised (trimmed,
-- full-width folded, upper case: the typed columns). A value that fails S01 or S02 takes no part; those rules run
-- in the same stage, so their conditions are repeated here. The student number stays usable for later stages.
-- The rows of a pair are found by one GROUP BY that carries them along (a window over the round sorted all of it).
WITH candidate AS (
    SELECT c.record_id, c.school_code, c.student_no, c.student_no_raw
    FROM   checked_record c
    WHERE  c.round_id = @round_id
      AND  c.student_no IS NOT NULL
      AND  c.school_code IS NOT NULL
      -- S02's judgement of the two texts, noted when the version was written.
      AND  NOT coalesce(c.bad_text_fields && '{student_no,school_code}', false)
),
duplicate_key AS (
    -- The keys alone first (hashable aggregates only: min <> max where count(DISTINCT …) would sort the round), then
    -- the rows of the few duplicate groups: carrying every row's values through the grouping of the round cost more.
    SELECT school_code, student_no FROM candidate GROUP BY school_code, student_no HAVING count(*) >= 2
),
duplicate AS (
    SELECT array_agg(c.record_id) AS record_ids, array_agg(c.student_no_raw) AS raws, count(*) AS rows
    FROM   candidate c
    JOIN   duplicate_key k ON k.school_code = c.school_code AND k.student_no = c.student_no
    GROUP  BY c.school_code, c.student_no
)
SELECT u.record_id, NULL::text AS school_code, 'student_no' AS field, u.value, d.rows || ' rows' AS detail, NULL::text AS severity
FROM   duplicate d
CROSS  JOIN LATERAL unnest(d.record_ids, d.raws) AS u (record_id, value);
