-- 0019 second factor: a TOTP authenticator (RFC 6238) per account, in a table of its own rather than columns of
-- access.account (whose changes go through the owner's functions). The shared secret is kept encrypted by the portal
-- (AES-GCM under a key derived from the signing key, which is not in the database), so a copy of this table alone gives
-- no codes. Recovery codes are kept as keyed hashes, each removed when used. A row whose enrolled_at is NULL is an
-- enrolment under way: its secret is shown once, and becomes the account's only when a code from it is entered.
--
-- A sign-in waiting for its second factor (the password was right, no session yet) is a row of its own, found by the
-- hash of a random token in a short-lived cookie; it expires within minutes and is taken once. factor_done: the code
-- was entered at enrolment, and the session starts once the recovery codes have been shown.
CREATE TABLE access.second_factor (
    account               text PRIMARY KEY REFERENCES access.account ON DELETE CASCADE,
    secret_protected      bytea NOT NULL,
    key_id                text NOT NULL,
    enrolled_at           timestamptz,
    started_at            timestamptz NOT NULL DEFAULT now(),
    last_step             bigint,
    recovery_code_hashes  text[] NOT NULL DEFAULT '{}',
    recovery_codes_used   integer NOT NULL DEFAULT 0,
    failed_codes          integer NOT NULL DEFAULT 0,
    locked_until          timestamptz
);
COMMENT ON COLUMN access.second_factor.secret_protected IS 'The TOTP secret, AES-GCM encrypted by the portal (nonce, tag, ciphertext); never in clear.';
COMMENT ON COLUMN access.second_factor.last_step IS 'The 30-second step of the last code taken: a code of that step or an earlier one is refused (replay).';
COMMENT ON COLUMN access.second_factor.recovery_code_hashes IS 'HMAC-SHA256 of the recovery codes not used yet; a code used is removed.';

CREATE TABLE access.pending_sign_in (
    token_hash    text PRIMARY KEY,
    account       text NOT NULL REFERENCES access.account ON DELETE CASCADE,
    stamp         text NOT NULL,
    must_change   boolean NOT NULL,
    factor_done   boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX pending_sign_in_expires ON access.pending_sign_in (expires_at);

-- The portal's role: what it needs, named here rather than left to the default privileges of 0010. It enrols and signs
-- in (read, add, update); removing an enrolment is the data team's (`sdq user reset-2fa`, as the owner), not the portal's.
REVOKE ALL ON access.second_factor FROM sdq_app;
GRANT SELECT, INSERT, UPDATE ON access.second_factor TO sdq_app;
REVOKE ALL ON access.pending_sign_in FROM sdq_app;
GRANT SELECT, INSERT, DELETE ON access.pending_sign_in TO sdq_app;
GRANT UPDATE (factor_done) ON access.pending_sign_in TO sdq_app;
