-- id: F11
-- stage: 2
-- severity: warning
-- fields: guardian_phone
-- title.en: Guardian phone is not a valid mobile or landline number
-- title.zh: 监护人联系电话不是有效的手机或固定电话号码
-- fix.en: Enter a number the school can reach: an 11-digit mobile number (1[3-9]…), or a landline with its area code, e.g. 0451-86123456.
-- fix.zh: 请填写可联系到监护人的号码：11 位手机号码，或带区号的固定电话，例如 0451-86123456。
-- why.en: A school must be able to reach a child's guardian, in an emergency above all.
-- why.zh: 学校必须能联系到学生的监护人，紧急情况下尤其如此。
-- example.wrong: 8612345 (no area code)
-- example.right: 0451-86123456
-- example.wrong: 1391234567 (10 digits)
-- example.right: 13912345678
-- example.wrong: 无
-- example.right: 13912345678
-- explain: no
-- version: 4
-- The typed phone is the digits once spaces, hyphens, brackets and + are removed (NULL when anything else is in
-- it); a leading 86 on 13 digits is the country code. A warning, but the value is not used by later rules.
-- Tested when the version was written (guardian_phone_ok: NULL for a blank phone).
SELECT c.record_id, NULL::text AS school_code, 'guardian_phone' AS field, c.guardian_phone_raw AS value,
       'expected 11-digit mobile or area code + number' AS detail, NULL::text AS severity
FROM   checked_record c
WHERE  c.round_id = @round_id
  AND  NOT c.guardian_phone_ok;
