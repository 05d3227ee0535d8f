-- 0024 parents confirm their child's record (issue 18; docs/confirmations.md). The school prints a confirmation sheet per
-- student (confirm.sheet, one print = confirm.print), the class teacher collects the signed sheets and enters what the
-- parents answered (confirm.answer: the sheet, the date the parent signed, who entered it, from which file if any), and each
-- value a parent corrected is a change (confirm.change): applied at once as a correction of the record, or, for an identity
-- field (ID number, name, birth date), held until the school's registrar approves it with the paper sheet at hand.
--
--   access.account            gains the role 'class_teacher' (its school in school_code, its classes in access.account_class)
--   access.account_class      the classes (grade, class name) a class teacher serves
--   confirm.campaign          a round's confirmation campaign: class teachers read their students only while it is open
--   access.may_read_student   the one scope rule for a student's record: may_act_for for the school's roles, and for a class
--                             teacher the student's class at its school during the round's open campaign
--   exchange.correction       a correction now comes from a returned worksheet (return_id, and where in the file) or from a
--                             parent's answer (change_id); registry.record_version likewise names the change that made it

ALTER TABLE access.account DROP CONSTRAINT account_role_check;
ALTER TABLE access.account ADD CONSTRAINT account_role_check
    CHECK (role IN ('data_team', 'district', 'school', 'manager', 'class_teacher'));
ALTER TABLE access.account ADD CONSTRAINT account_class_teacher_school CHECK (role <> 'class_teacher' OR school_code IS NOT NULL);

-- A class is a grade (1–12, as the record's normalised grade) and a class name as the registry writes it ("3班").
CREATE TABLE access.account_class (
    account     text NOT NULL REFERENCES access.account ON DELETE CASCADE,
    grade       smallint NOT NULL CHECK (grade BETWEEN 1 AND 12),
    class_name  text NOT NULL CHECK (class_name <> '' AND length(class_name) <= 40),
    PRIMARY KEY (account, grade, class_name)
);

-- Classes are given with the account, by the command line (the owner): the portal reads them only.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON access.account_class FROM sdq_app;

-- Adds a class teacher with its classes (or adds classes to an existing class teacher of the same school), audited as
-- account.add / account.classes. False when the account exists already with exactly these classes.
CREATE FUNCTION access.add_class_teacher(p_account text, p_school text, p_grades smallint[], p_classes text[], p_actor text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_added boolean;
    v_classes integer;
BEGIN
    INSERT INTO access.account (account, role, school_code, created_by)
    VALUES (p_account, 'class_teacher', p_school, p_actor)
    ON CONFLICT (account) DO NOTHING;
    v_added := FOUND;
    IF v_added THEN
        INSERT INTO audit.event (actor, action, school_code, object, details)
        VALUES (left(p_actor, 64), 'account.add', p_school, p_account, jsonb_build_object('role', 'class_teacher'));
    END IF;
    INSERT INTO access.account_class (account, grade, class_name)
    SELECT p_account, g, c FROM unnest(p_grades, p_classes) AS t(g, c)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_classes = ROW_COUNT;
    IF v_classes > 0 THEN
        INSERT INTO audit.event (actor, action, school_code, object, details)
        VALUES (left(p_actor, 64), 'account.classes', p_school, p_account,
                jsonb_build_object('added', (SELECT jsonb_agg(jsonb_build_array(g, c)) FROM unnest(p_grades, p_classes) AS t(g, c))));
    END IF;
    RETURN v_added OR v_classes > 0;
END $$;
REVOKE EXECUTE ON FUNCTION access.add_class_teacher(text, text, smallint[], text[], text) FROM PUBLIC, sdq_app;

CREATE SCHEMA confirm;

-- A round's campaign: opened by the first print of its sheets (or by the data team), open until closes_on (Beijing date,
-- inclusive) unless closed earlier. Class teachers see their students only while it is open.
CREATE TABLE confirm.campaign (
    round_id    integer PRIMARY KEY REFERENCES registry.round,
    opened_at   timestamptz NOT NULL DEFAULT now(),
    opened_by   text NOT NULL,
    closes_on   date NOT NULL,
    closed_at   timestamptz,
    closed_by   text
);

-- One printing: a school's or one class's sheets in one PDF, with the PDF's sha256.
CREATE TABLE confirm.print (
    print_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    round_id     integer NOT NULL REFERENCES registry.round,
    school_code  text NOT NULL,
    grade        smallint,
    class_name   text,
    printed_by   text NOT NULL,
    printed_at   timestamptz NOT NULL DEFAULT now(),
    sheets       integer NOT NULL,
    language     text NOT NULL CHECK (language IN ('zh', 'en')),
    sha256       text CHECK (sha256 ~ '^[0-9a-f]{64}$')
);
CREATE INDEX ON confirm.print (round_id, school_code, grade, class_name);

-- One student's sheet: its id (printed as text and QR code), the record version it shows and the values it showed (what
-- the parent judged; an answer is compared with these). Printing a class again makes new sheets; an older sheet may still
-- be answered.
CREATE TABLE confirm.sheet (
    sheet_id        text PRIMARY KEY CHECK (sheet_id ~ '^QS[0-9A-HJKMNP-TV-Z]{10}$'),
    print_id        bigint NOT NULL REFERENCES confirm.print,
    round_id        integer NOT NULL,
    school_code     text NOT NULL,
    grade           smallint,
    class_name      text NOT NULL,
    record_id       bigint NOT NULL,
    record_version  integer NOT NULL,
    printed_values  jsonb NOT NULL
);
CREATE INDEX ON confirm.sheet (round_id, school_code, grade, class_name);
CREATE INDEX ON confirm.sheet (round_id, record_id);

-- What came back on a sheet: confirmed unchanged, or corrected (its changes below). One answer per sheet. Entered in the
-- portal, or from a class answer workbook (then its file, sha256 and Excel row).
CREATE TABLE confirm.answer (
    answer_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sheet_id     text NOT NULL UNIQUE REFERENCES confirm.sheet,
    round_id     integer NOT NULL,
    record_id    bigint NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('unchanged', 'corrected')),
    signed_on    date NOT NULL,
    entered_by   text NOT NULL,
    entered_at   timestamptz NOT NULL DEFAULT now(),
    file_name    text,
    file_sha256  text CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
    excel_row    integer,
    CHECK ((file_name IS NULL) = (file_sha256 IS NULL))
);
CREATE INDEX ON confirm.answer (round_id, record_id);

-- One value a parent corrected. Applied at once (status applied, correction_id) unless it is an identity field: then
-- pending until the registrar approves (applied) or refuses it. A change whose value the record no longer holds as printed
-- (changed meanwhile by a return) waits for the registrar too.
CREATE TABLE confirm.change (
    change_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    answer_id      bigint NOT NULL REFERENCES confirm.answer,
    round_id       integer NOT NULL,
    record_id      bigint NOT NULL,
    field          text NOT NULL,
    printed_value  text,
    new_value      text NOT NULL,
    status         text NOT NULL CHECK (status IN ('applied', 'pending', 'refused')),
    waits_because  text CHECK (waits_because IN ('identity', 'changed_since_print')),
    correction_id  bigint,
    decided_by     text,
    decided_at     timestamptz,
    decision_note  text,
    UNIQUE (answer_id, field)
);
CREATE INDEX ON confirm.change (round_id, record_id);
CREATE INDEX ON confirm.change (round_id, status) WHERE status = 'pending';

-- A correction from a parent's answer has no returned file: where in a file is then unknown, and change_id names it.
ALTER TABLE exchange.correction
    ALTER COLUMN return_id DROP NOT NULL,
    ALTER COLUMN row_key DROP NOT NULL,
    ALTER COLUMN sheet DROP NOT NULL,
    ALTER COLUMN excel_row DROP NOT NULL,
    ADD COLUMN change_id bigint,
    ADD CONSTRAINT correction_one_source CHECK ((return_id IS NULL) <> (change_id IS NULL)) NOT VALID,
    ADD CONSTRAINT correction_return_cell CHECK (return_id IS NULL OR (row_key IS NOT NULL AND sheet IS NOT NULL AND excel_row IS NOT NULL)) NOT VALID;
CREATE INDEX ON exchange.correction (change_id) WHERE change_id IS NOT NULL;

ALTER TABLE registry.record_version ADD COLUMN change_id bigint;

-- Whether a round's confirmation campaign is open now (Beijing date).
CREATE FUNCTION confirm.campaign_open(p_round integer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT EXISTS (SELECT FROM confirm.campaign c
                   WHERE c.round_id = p_round AND c.closed_at IS NULL
                     AND (now() AT TIME ZONE 'Asia/Shanghai')::date <= c.closes_on)
$$;

-- The one scope rule for one student's record (its school, grade, class, round): the school's roles by access.may_act_for;
-- a class teacher its own classes at its own school, while the round's campaign is open and once its class's sheets have
-- been printed (a campaign reaches a class with its sheets: a class teacher of a school that printed nothing sees nothing);
-- nobody else.
CREATE FUNCTION access.may_read_student(p_account text, p_role text, p_school text, p_district text, p_school_code text, p_grade smallint,
                                        p_class_name text, p_round integer)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE p_role
        WHEN 'class_teacher' THEN coalesce(p_school_code = p_school, false)
                                  AND EXISTS (SELECT FROM access.account_class k
                                              WHERE k.account = p_account AND k.grade = p_grade AND k.class_name = p_class_name)
                                  AND confirm.campaign_open(p_round)
                                  AND EXISTS (SELECT FROM confirm.print p
                                              WHERE p.round_id = p_round AND p.school_code = p_school_code AND p.grade = p_grade
                                                AND p.class_name = p_class_name)
        ELSE access.may_act_for(p_role, p_school, p_district, p_school_code) END
$$;

COMMENT ON FUNCTION access.may_read_student(text, text, text, text, text, smallint, text, integer) IS
    'Whether an account may read one student''s record (0024): may_act_for, or a class teacher''s class during the campaign.';

-- The portal writes the evidence once and decides changes; it never rewrites nor deletes an answer, a sheet or a decision,
-- and opens a campaign only by a first print (closing, reopening and extending are the data team's, at the command line).
REVOKE ALL ON confirm.campaign, confirm.print, confirm.sheet, confirm.answer, confirm.change FROM sdq_app;
GRANT SELECT, INSERT ON confirm.campaign, confirm.print, confirm.sheet, confirm.answer, confirm.change TO sdq_app;
GRANT UPDATE (sha256) ON confirm.print TO sdq_app;
GRANT UPDATE (status, decided_by, decided_at, decision_note, correction_id) ON confirm.change TO sdq_app;

GRANT EXECUTE ON FUNCTION confirm.campaign_open(integer) TO sdq_app;
GRANT EXECUTE ON FUNCTION access.may_read_student(text, text, text, text, text, smallint, text, integer) TO sdq_app;
