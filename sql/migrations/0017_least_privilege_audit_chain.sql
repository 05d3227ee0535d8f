-- 0017 least privilege for sdq_app, one-time passwords that expire, and a hash chain over the audit log (issue 16, items 6
-- and 11; docs/security.md, "Database roles and the audit chain" and "One-time passwords").
--
-- Every REVOKE below names its table and its privileges: grants made by other migrations (a later table of the portal, made
-- with its own GRANT) are left as they are.

-- One-time passwords expire ----------------------------------------------------------------------------------------------

-- The moment the one-time password stops working, set by whoever gave it (72 hours later by default, configurable); NULL for
-- a password the account chose itself. Stored rather than worked out at sign-in, so that what the data team was told when
-- the password was printed is what the portal enforces, whatever its own configuration.
ALTER TABLE access.account ADD COLUMN password_expires_at timestamptz;
COMMENT ON COLUMN access.account.password_expires_at IS
    'When the one-time password (must_change_password) stops working; NULL for a password the account chose.';

-- One-time passwords handed out before this migration get 72 hours from now, like a new one.
UPDATE access.account SET password_expires_at = now() + interval '72 hours'
WHERE  must_change_password AND password_hash IS NOT NULL;

-- The audit log: sdq_app appends the columns it means, never the id or the time ---------------------------------------------

-- event_id comes from its identity and occurred_at from now(): with INSERT on these six columns only, neither OVERRIDING
-- SYSTEM VALUE nor a chosen time is possible (permission denied for the column), so nothing can be backdated or slotted in.
REVOKE INSERT ON audit.event FROM sdq_app;
GRANT INSERT (actor, action, round_id, school_code, object, details) ON audit.event TO sdq_app;

-- Accounts: read by the portal, changed through functions that audit themselves ----------------------------------------------

-- The portal signs accounts in: it counts failures, locks for a while, notes the last sign-in and seals an account unused
-- too long. Those columns it may update. Who an account is (name, role, school, district) and its password it may not: the
-- password changes through access.change_password below, and accounts are made and reset by the data team (the command
-- line, as the owner). The UPDATE grant is made column by column over what the table has now, minus those columns, so that
-- a column another migration added before this one for the portal stays writable.
REVOKE INSERT, DELETE, TRUNCATE ON access.account FROM sdq_app;
REVOKE UPDATE ON access.account FROM sdq_app;
DO $$
DECLARE
    columns text;
BEGIN
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO columns
    FROM   pg_catalog.pg_attribute
    WHERE  attrelid = 'access.account'::regclass AND attnum > 0 AND NOT attisdropped
      AND  attname NOT IN ('account', 'role', 'school_code', 'district_code', 'display_name', 'created_at', 'created_by',
                           'password_hash', 'must_change_password', 'password_set_at', 'password_expires_at');
    EXECUTE format('GRANT UPDATE (%s) ON access.account TO sdq_app', columns);
END $$;

-- The functions run as their owner (the schema's owner) with a fixed search_path, so that no object of the caller's can
-- stand in for one of theirs; each writes its audit entry in the same statement as its change.

-- An account's own new password (the portal's password form): no longer one-time, and no expiry.
CREATE FUNCTION access.change_password(p_account text, p_hash text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_school text;
BEGIN
    IF p_hash IS NULL OR length(p_hash) = 0 THEN
        RAISE EXCEPTION 'A password hash is needed.' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE access.account SET password_hash = p_hash, must_change_password = false, password_set_at = now(), password_expires_at = NULL,
                              failed_sign_ins = 0, locked_until = NULL
    WHERE  account = p_account
    RETURNING school_code INTO v_school;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO audit.event (actor, action, school_code, object, details)
    VALUES (left(p_account, 64), 'account.password.change', v_school, p_account, '{}');
    RETURN true;
END $$;

-- A one-time password from the data team, valid until p_expires_at: it must be changed at first sign-in, and it opens a
-- locked or sealed account.
CREATE FUNCTION access.reset_password(p_account text, p_hash text, p_expires_at timestamptz, p_actor text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_school text;
BEGIN
    IF p_hash IS NULL OR length(p_hash) = 0 OR p_expires_at IS NULL THEN
        RAISE EXCEPTION 'A password hash and its expiry are needed.' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE access.account SET password_hash = p_hash, must_change_password = true, password_set_at = now(), password_expires_at = p_expires_at,
                              failed_sign_ins = 0, locked_until = NULL, sealed_at = NULL
    WHERE  account = p_account
    RETURNING school_code INTO v_school;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO audit.event (actor, action, school_code, object, details)
    VALUES (left(p_actor, 64), 'account.password.reset', v_school, p_account, jsonb_build_object('valid_until', p_expires_at));
    RETURN true;
END $$;

-- Seals an account: no sign-in until the data team gives it a new one-time password.
CREATE FUNCTION access.seal_account(p_account text, p_actor text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_school text;
BEGIN
    UPDATE access.account SET sealed_at = coalesce(sealed_at, now()) WHERE account = p_account RETURNING school_code INTO v_school;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO audit.event (actor, action, school_code, object, details) VALUES (left(p_actor, 64), 'account.seal', v_school, p_account, '{}');
    RETURN true;
END $$;

-- Adds an account, or leaves one of that name as it is (false then).
CREATE FUNCTION access.add_account(p_account text, p_role text, p_school text, p_district text, p_actor text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO access.account (account, role, school_code, district_code, created_by)
    VALUES (p_account, p_role, p_school, p_district, p_actor)
    ON CONFLICT (account) DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO audit.event (actor, action, school_code, object, details)
    VALUES (left(p_actor, 64), 'account.add', p_school, p_account, jsonb_build_object('role', p_role, 'district_code', p_district));
    RETURN true;
END $$;

-- The portal changes its own account's password; giving passwords, sealing and adding accounts are the data team's (the
-- command line, as the owner). The default privileges of 0010 gave every new function to sdq_app: taken back here.
REVOKE EXECUTE ON FUNCTION access.change_password(text, text), access.reset_password(text, text, timestamptz, text),
    access.seal_account(text, text), access.add_account(text, text, text, text, text) FROM PUBLIC, sdq_app;
GRANT EXECUTE ON FUNCTION access.change_password(text, text) TO sdq_app;

-- Hangfire's storage: the portal enqueues, schedules and (from the dashboard) deletes or requeues jobs ----------------------

-- It needs the job tables (job, state, jobparameter, jobqueue), the recurring jobs (hash, set), the statistics counters and
-- the distributed locks (lock). It runs no Hangfire server: it never announces one (server), aggregates counters
-- (aggregatedcounter), keeps lists (list) or installs the schema (schema). Those it may read (the dashboard shows them),
-- not write. Hangfire makes its schema at run time, after the migrations: the owner calls this function each time it has
-- prepared the storage (JobHost.Storage), and here for a schema that exists already.
CREATE FUNCTION access.restrict_job_storage() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sdq_app') THEN
        RETURN;
    END IF;
    FOREACH t IN ARRAY ARRAY['server', 'aggregatedcounter', 'list', 'schema'] LOOP
        IF to_regclass(format('hangfire.%I', t)) IS NOT NULL THEN
            EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON hangfire.%I FROM sdq_app', t);
        END IF;
    END LOOP;
END $$;
REVOKE EXECUTE ON FUNCTION access.restrict_job_storage() FROM PUBLIC, sdq_app;
SELECT access.restrict_job_storage();

-- The hash chain over the audit log -----------------------------------------------------------------------------------------

-- Each event is linked, in the order it is sealed, to the one sealed before: its link holds the previous link's hash and
-- sha256(previous hash, newline, the event's canonical text). Changing, removing or slipping in an event (as the owner, with
-- the triggers disabled) breaks the chain at that event, and `sdq audit verify` names it.
--
-- Events are sealed at the commit of the transaction that wrote them (a deferred trigger), under an advisory lock held only
-- while the commit links its own events: a sign-in never waits for an ingest batch that is still open, only for the few
-- milliseconds of another commit's linking. An event's place in the chain is therefore its commit order, not its id (ids
-- are handed out at insert; a long batch commits after events of higher ids). Events that could not be sealed at their
-- commit (a repeatable-read transaction, whose snapshot cannot see the chain's end) wait in audit.unlinked for the next
-- audit.seal(), which `sdq audit verify` calls first.
CREATE TABLE audit.link (
    seq          bigint PRIMARY KEY CHECK (seq >= 1),
    event_id     bigint NOT NULL UNIQUE,
    occurred_at  timestamptz NOT NULL,
    prev_hash    text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash         text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    linked_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE audit.link IS 'The hash chain over audit.event, in sealing order (docs/security.md, "Database roles and the audit chain").';
CREATE TRIGGER link_append_only BEFORE UPDATE OR DELETE ON audit.link FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER link_no_truncate BEFORE TRUNCATE ON audit.link FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- Events written and not sealed yet (their transaction may still be open: then no one else sees them).
CREATE TABLE audit.unlinked (event_id bigint PRIMARY KEY);

REVOKE ALL ON audit.link, audit.unlinked FROM sdq_app;
GRANT SELECT ON audit.link TO sdq_app;

-- The canonical text of an event: a JSON array of its fields in a fixed order, the time in UTC to the microsecond, the
-- details as jsonb prints them (keys sorted, no spaces that vary). JSON quoting makes the text unambiguous.
-- Plain SQL with every name qualified and no SET clause, so that the planner inlines them into the statements that call them.
CREATE FUNCTION audit.canonical(e audit.event) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT pg_catalog.jsonb_build_array(e.event_id, pg_catalog.to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                        e.actor, e.action, e.round_id, e.school_code, e.object, e.details)::text
$$;

CREATE FUNCTION audit.link_hash(prev_hash text, e audit.event) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(prev_hash || E'\n' || audit.canonical(e), 'UTF8')), 'hex')
$$;

-- Links every event that is visible and not linked yet, in id order, after the chain's end; returns how many. Runs under
-- one advisory lock, taken before the chain's end is read: in read committed each statement sees what committed before it,
-- so the end read after the lock is the one the previous holder left. In a repeatable-read or serializable transaction the
-- end could be stale: nothing is linked then (the events wait for the next seal).
CREATE FUNCTION audit.seal() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_seq   bigint;
    v_hash  text;
    v_next  text;
    v_count bigint := 0;
    e       audit.event;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('sdq.audit.chain'));
    SELECT l.seq, l.hash INTO v_seq, v_hash FROM audit.link l ORDER BY l.seq DESC LIMIT 1;
    v_seq := coalesce(v_seq, 0);
    v_hash := coalesce(v_hash, repeat('0', 64));
    FOR e IN SELECT ev.* FROM audit.unlinked u JOIN audit.event ev ON ev.event_id = u.event_id ORDER BY ev.event_id LOOP
        v_seq := v_seq + 1;
        v_next := audit.link_hash(v_hash, e);
        INSERT INTO audit.link (seq, event_id, occurred_at, prev_hash, hash) VALUES (v_seq, e.event_id, e.occurred_at, v_hash, v_next);
        v_hash := v_next;
        v_count := v_count + 1;
    END LOOP;
    DELETE FROM audit.unlinked u WHERE EXISTS (SELECT FROM audit.link l WHERE l.event_id = u.event_id);
    RETURN v_count;
END $$;

CREATE FUNCTION audit.queue_link() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO audit.unlinked (event_id) VALUES (NEW.event_id);
    RETURN NULL;
END $$;

-- At commit, once per event of the transaction, in the order they were written: the event is linked after the chain's end,
-- under the advisory lock (taken at the first, held until the commit is done). Only the transaction's own events: a few
-- index lookups each, whatever waits elsewhere. No exception block: it would open a subtransaction per event, and a batch
-- of more than 64 would slow every other session's snapshots (subtransaction overflow); under the lock in read committed
-- the chain's end cannot move, so there is nothing to catch.
CREATE FUNCTION audit.link_at_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_seq  bigint;
    v_hash text;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RETURN NULL; -- waits in audit.unlinked for the next audit.seal()
    END IF;
    DELETE FROM audit.unlinked WHERE event_id = NEW.event_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('sdq.audit.chain'));
    SELECT l.seq, l.hash INTO v_seq, v_hash FROM audit.link l ORDER BY l.seq DESC LIMIT 1;
    v_hash := coalesce(v_hash, repeat('0', 64));
    INSERT INTO audit.link (seq, event_id, occurred_at, prev_hash, hash)
    VALUES (coalesce(v_seq, 0) + 1, NEW.event_id, NEW.occurred_at, v_hash, audit.link_hash(v_hash, NEW));
    RETURN NULL;
END $$;

CREATE TRIGGER event_queue_link AFTER INSERT ON audit.event FOR EACH ROW EXECUTE FUNCTION audit.queue_link();
CREATE CONSTRAINT TRIGGER event_link_at_commit AFTER INSERT ON audit.event DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION audit.link_at_commit();

REVOKE EXECUTE ON FUNCTION audit.seal(), audit.queue_link(), audit.link_at_commit() FROM PUBLIC, sdq_app;

-- The events written before this migration, sealed now in id order.
INSERT INTO audit.unlinked (event_id) SELECT event_id FROM audit.event;
SELECT audit.seal();
