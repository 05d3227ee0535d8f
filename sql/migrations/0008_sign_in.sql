-- 0008 sign-in: what the web portal needs of an account. The password is kept only as the framework's password hash;
-- an account made or reset by the data team has a one-time password that must be changed at first sign-in. Failed
-- attempts lock the account for a while; an account unused for 180 days is sealed (the national rules ask for it) and
-- only the data team can open it again.
ALTER TABLE access.account
    ADD COLUMN password_hash         text,
    ADD COLUMN must_change_password  boolean NOT NULL DEFAULT true,
    ADD COLUMN failed_sign_ins       integer NOT NULL DEFAULT 0,
    ADD COLUMN locked_until          timestamptz,
    ADD COLUMN last_sign_in_at       timestamptz,
    ADD COLUMN password_set_at       timestamptz,
    ADD COLUMN sealed_at             timestamptz;
COMMENT ON COLUMN access.account.password_hash IS 'ASP.NET Core Identity password hash (PBKDF2); never the password.';
