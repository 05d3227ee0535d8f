-- id: S03
-- stage: 1
-- severity: error
-- fields: student_no
-- title.en: The same student number appears more than once in this school
-- title.zh: 本校学籍号重复
-- fix.en: Keep one row per student: delete the duplicate row, or correct the student number of the row that belongs to another student.
-- fix.zh: 每名学生只保留一行：请删除重复的行，或更正属于其他学生那一行的学籍号。
-- version: 2
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
      AND  c.student_no_raw !~ '[\u0001-\u001f\u007f-\u009f\ufffd]'
      AND  c.school_code_raw !~ '[\u0001-\u001f\u007f-\u009f\ufffd]'
      -- A length in bytes within the limit is one in characters too; only longer texts are counted as S02 counts.
      AND  (octet_length(c.student_no_raw) <= 19 OR length(c.student_no_raw) + regexp_count(c.student_no_raw, '[\U00010000-\U0010ffff]') <= 19)
      AND  (octet_length(c.school_code_raw) <= 10 OR length(c.school_code_raw) + regexp_count(c.school_code_raw, '[\U00010000-\U0010ffff]') <= 10)
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
