-- 0016 sessions and sign-in throttle (issue 16, items 3 and 4).
--
-- access.session: a portal session on the server. The cookie carries a random token; the table keeps only its sha256,
-- so that a copy of the table opens no session. A session ends at sign-out (ended_at), after its absolute lifetime
-- (expires_at), after an idle time (last_seen_at, kept by the portal to the minute), when its account is sealed, or when
-- the account's password is no longer the one it was opened with (stamp: the first 16 hex digits of the sha256 of the
-- password hash, as SignIns.Stamp).
--
-- access.sign_in_throttle: failed sign-ins counted per client address ('address:…') and per account name tried
-- ('account:…', names of no account too, so that the answer never tells which accounts exist); past a number of
-- failures each further attempt waits a delay that doubles up to a ceiling (blocked_until). An account's delay applies
-- only to addresses it was not signed in from before (access.sign_in_origin): guessing from elsewhere cannot keep a
-- school out from where it usually works.
CREATE TABLE access.session (
    token_hash    bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    account       text NOT NULL REFERENCES access.account (account) ON DELETE CASCADE,
    stamp         text NOT NULL,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    ended_at      timestamptz,
    created_from  text NOT NULL DEFAULT ''
);
CREATE INDEX session_account ON access.session (account);
COMMENT ON TABLE access.session IS 'Portal sessions; the cookie holds a random token, this table only its sha256.';

CREATE TABLE access.sign_in_throttle (
    subject          text PRIMARY KEY CHECK (subject ~ '^(address|account):' AND length(subject) <= 100),
    failures         integer NOT NULL CHECK (failures > 0),
    last_failure_at  timestamptz NOT NULL,
    blocked_until    timestamptz
);
CREATE INDEX sign_in_throttle_last_failure ON access.sign_in_throttle (last_failure_at);

CREATE TABLE access.sign_in_origin (
    account          text NOT NULL REFERENCES access.account (account) ON DELETE CASCADE,
    address          text NOT NULL CHECK (length(address) <= 64),
    last_success_at  timestamptz NOT NULL,
    PRIMARY KEY (account, address)
);

-- The delay after the n-th failure: none below the number allowed, then first, doubled each time, never above ceiling.
CREATE FUNCTION access.sign_in_delay(failures integer, allowed integer, first interval, ceiling interval) RETURNS interval
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN failures >= allowed THEN least(ceiling, first * power(2, least(failures - allowed, 20))) END;

-- Grants made here, not left to the default privileges of 0010: what the portal's role does with each table.
REVOKE ALL ON access.session, access.sign_in_throttle, access.sign_in_origin FROM sdq_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON access.session TO sdq_app;          -- open, touch, end, purge the expired
GRANT SELECT, INSERT, UPDATE, DELETE ON access.sign_in_throttle TO sdq_app; -- count, clear at a success, purge the old
GRANT SELECT, INSERT, UPDATE ON access.sign_in_origin TO sdq_app;           -- remember where an account signed in
REVOKE EXECUTE ON FUNCTION access.sign_in_delay(integer, integer, interval, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION access.sign_in_delay(integer, integer, interval, interval) TO sdq_app;
