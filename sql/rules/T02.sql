-- id: T02
-- stage: 5
-- severity: warning
-- fields: birth_date, gender, id_number
-- title.en: Birth date, gender or ID number differs from the previous round
-- title.zh: 出生日期、性别或身份证件号与上一轮不一致
-- fix.en: These never change for a student. Check the value against the household register or ID card; correct it if it is wrong now, or confirm the finding if the previous round's value was the wrong one (the previous value is in the details).
-- fix.zh: 学生的出生日期、性别和身份证件号不会变化。请对照户口簿或身份证核实：如本轮填写有误请更正；如上一轮的信息有误，请确认此提示（上一轮的值见详情）。
-- why.en: Birth date, gender and ID number never change; a difference between rounds means one of the rounds is wrong.
-- why.zh: 出生日期、性别和身份证件号不会改变；两轮不一致说明其中一轮有误。
-- example.wrong: birth_date 20150304 last round, 20150403 now
-- example.right: birth_date 20150304 again
-- example.wrong: gender 2 last round, 1 now (last round wrong, ID 230103201607210011 says male)
-- example.right: gender 1 kept, finding confirmed: the previous round was wrong
-- explain: yes
-- version: 6
-- partners: school_code, student_no
-- Current rows are matched with the previous round's row of the same school code and student number (normalised,
-- F09 and F01 in both rounds; of several previous rows the first). One finding per field whose value is present
-- and valid in both rounds and differs: birth date (F06, each against its own round date), gender (F08), ID
-- number (a resident ID as in X03 or another type of the form F02 asks). The previous round is read from
-- checked_source (the current records of both rounds; in a re-check, those sharing a changed record's school and
-- student number), so stage 1 (S02) is repeated for the values it compares.
-- The two rounds are matched by a hash join (the runner plans rule queries with nested loops off). Which previous
-- row is the first of its key is asked only of the pairs that differ, not by sorting the whole previous round for
-- DISTINCT ON; the conditions on the previous round are written so that the planner can judge them (as in T03).
WITH previous_date AS (
    SELECT r.round_date FROM registry.round r WHERE r.round_id = @previous_round_id
),
previous AS (
    SELECT p.record_id, p.school_code, p.student_no,
           CASE WHEN (p.bad_text_fields && '{birth_date}') IS NOT TRUE
                 AND p.birth_date BETWEEN (d.round_date - interval '25 years')::date AND (d.round_date - interval '3 years')::date
                THEN p.birth_date END AS birth_date,
           CASE WHEN (p.bad_text_fields && '{gender}') IS NOT TRUE THEN p.gender END AS gender,
           CASE WHEN (p.bad_text_fields && '{id_type,id_number}') IS NOT TRUE
                 AND CASE p.id_type WHEN '1' THEN p.id_number_check_ok AND p.id_number_birth IS NOT NULL
                                    ELSE quality.id_valid(p.id_type, p.id_number) END
                THEN p.id_number END AS id_number
    FROM   checked_source p
    CROSS  JOIN previous_date d
    WHERE  p.round_id = @previous_round_id
      -- F09, F01 and S02 as the facts noted when the version was written say them.
      AND  p.school_code_shape_ok AND p.school_code LIKE '__' || @province || '%'
      AND  p.student_no_shape_ok
      AND  (p.bad_text_fields && '{school_code,student_no}') IS NOT TRUE
),
current AS (
    SELECT c.record_id, c.school_code, c.student_no, c.birth_date_raw, c.gender_raw, c.id_number_raw,
           c.birth_date,
           c.gender,
           CASE WHEN c.id_type IN ('1', '6', '7', '8', '9', 'A') THEN c.id_number END AS id_number
    FROM   checked_record c
    WHERE  c.round_id = @round_id
      AND  c.school_code IS NOT NULL AND c.student_no IS NOT NULL
),
differing AS (
    -- Most students have changed nothing: one test per pair first, so that only the few that differ are taken apart.
    SELECT c.*, p.record_id AS previous_id, p.birth_date AS previous_birth_date, p.gender AS previous_gender, p.id_number AS previous_id_number
    FROM   current c
    JOIN   previous p ON p.school_code = c.school_code AND p.student_no = c.student_no
    WHERE  c.birth_date <> p.birth_date OR c.gender <> p.gender OR c.id_number <> p.id_number
    OFFSET 0
)
SELECT c.record_id, NULL::text AS school_code, f.field, f.value, 'previous round ' || f.previous AS detail, NULL::text AS severity
FROM   differing c
CROSS  JOIN LATERAL (VALUES ('birth_date', c.birth_date_raw, to_char(c.previous_birth_date, 'YYYY-MM-DD'), c.birth_date <> c.previous_birth_date),
                           ('gender', c.gender_raw, c.previous_gender, c.gender <> c.previous_gender),
                           ('id_number', c.id_number_raw, c.previous_id_number, c.id_number <> c.previous_id_number)) AS f (field, value, previous, differs)
WHERE  f.differs
  -- Of several previous rows with one key (a duplicate last round), the first as the file had it.
  AND  c.previous_id = (SELECT min(q.record_id) FROM checked_source q
                        WHERE  q.round_id = @previous_round_id AND q.school_code = c.school_code AND q.student_no = c.student_no
                          AND  (q.bad_text_fields && '{school_code,student_no}') IS NOT TRUE);
