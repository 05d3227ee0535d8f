-- id: C09
-- stage: 3
-- severity: error
-- fields: guardian_id_number, id_number, birth_date
-- title.en: Guardian's ID number is the student's own, or the guardian is less than 14 years older than the student
-- title.zh: 监护人身份证件号与学生本人相同，或监护人比学生年长不足14岁
-- fix.en: Enter the guardian's own ID number (not the student's); check who is recorded as guardian.
-- fix.zh: 请填写监护人本人的身份证件号（不是学生的），并核对监护人信息。
-- why.en: The guardian is the person the school contacts and who answers for the child; the child's own number is never the guardian's.
-- why.zh: 监护人是学校联系并对学生负责的人；学生本人的证件号不能作为监护人的证件号。
-- example.wrong: guardian ID 230102201503040023, the same as the student's
-- example.right: guardian ID 230102198506120040 (the mother's own)
-- example.wrong: guardian ID 230102201001010019 for a student born 20150304 (5 years older)
-- example.right: guardian ID 230102198506120040, or kept and explained when an adult sibling is the guardian
-- explain: yes
-- version: 3
-- The student's own number is an error; a guardian less than 14 years older is a warning.
SELECT c.record_id, NULL::text AS school_code, 'guardian_id_number' AS field, c.guardian_id_number_raw AS value,
       NULL::text AS detail,
       CASE WHEN c.id_type = '1' AND c.id_number IS NOT NULL AND c.guardian_id_number = c.id_number THEN 'error' ELSE 'warning' END AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.guardian_id_number IS NOT NULL
  AND  (   (c.id_type = '1' AND c.id_number IS NOT NULL AND c.guardian_id_number = c.id_number)
        OR (c.guardian_id_check_ok AND c.guardian_id_birth IS NOT NULL
            AND c.birth_date IS NOT NULL
            AND c.guardian_id_birth + interval '14 years' > c.birth_date));
