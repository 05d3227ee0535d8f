-- id: C02
-- stage: 3
-- severity: error
-- fields: gender, id_number
-- title.en: Gender differs from the resident ID number (odd 17th digit male, even female)
-- title.zh: 性别与身份证件号不一致（第17位奇数为男、偶数为女）
-- fix.en: Check the household register: correct the gender, or the ID number if it was mistyped.
-- fix.zh: 请对照户口簿核对：改正性别；若身份证件号录入有误，请改正身份证件号。
-- why.en: The gender and the ID number describe the same child; when they disagree one of them was typed wrong.
-- why.zh: 性别和身份证件号说的是同一名学生；两者不一致说明其中一项录入有误。
-- example.wrong: gender 1, ID 230102201503040023 (17th digit 2: female)
-- example.right: gender 2, ID 230102201503040023
-- example.wrong: gender 2, ID 230103201607210011 (17th digit 1: male)
-- example.right: gender 1, ID 230103201607210011
-- explain: no
-- version: 4
-- By stage 3 the ID number is a valid resident ID (stage 2): its 17th digit, odd for male, even for female, is read in
-- place (a function call per record cost seconds per million). A row rule (sql/rules/README.md): no join, so that
-- it is judged in the one read of the round its phase's row rules share.
SELECT c.record_id, NULL::text AS school_code, 'gender' AS field, c.gender_raw AS value,
       'ID number says ' || CASE WHEN substr(c.id_number, 17, 1) IN ('1', '3', '5', '7', '9') THEN '1' ELSE '2' END AS detail,
       NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  c.id_type = '1' AND c.id_number IS NOT NULL
  AND  c.gender IS NOT NULL
  AND  c.gender <> CASE WHEN substr(c.id_number, 17, 1) IN ('1', '3', '5', '7', '9') THEN '1' ELSE '2' END;
