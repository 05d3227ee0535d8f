-- id: F11
-- stage: 2
-- severity: warning
-- fields: guardian_phone
-- title.en: Guardian phone is not a valid mobile or landline number
-- title.zh: 监护人联系电话不是有效的手机或固定电话号码
-- fix.en: Enter a number the school can reach: an 11-digit mobile number (1[3-9]…), or a landline with its area code, e.g. 0451-86123456.
-- fix.zh: 请填写可联系到监护人的号码：11 位手机号码，或带区号的固定电话，例如 0451-86123456。
-- version: 2
-- The typed phone is the digits once spaces, hyphens, brackets and + are removed (NULL when anything else is in
-- it); a leading 86 on 13 digits is the country code. A warning, but the value is not used by later rules.
SELECT c.record_id, NULL::text AS school_code, 'guardian_phone' AS field, c.guardian_phone_raw AS value,
       'expected 11-digit mobile or area code + number' AS detail, NULL::text AS severity
FROM   checked_record c
CROSS  JOIN LATERAL (SELECT CASE WHEN octet_length(c.guardian_phone) = 13 AND left(c.guardian_phone, 2) = '86' THEN substr(c.guardian_phone, 3)
                                 ELSE c.guardian_phone END AS digits) p
WHERE  c.round_id = @round_id
  AND  btrim(c.guardian_phone_raw, E' \t\r\n\u3000\u00a0') <> ''
  AND  (p.digits IS NULL
        OR (NOT (octet_length(p.digits) = 11 AND p.digits ~ '^1[3-9][0-9]+$') AND p.digits !~ '^0[0-9]{2,3}[2-9][0-9]{6,7}$'));
