-- 0009 sign-off: a school certifies its data for a round once no error is open and every open warning is explained
-- (an explanation pending or accepted covers it); its district office then approves. One row per school and round.
CREATE TABLE exchange.sign_off (
    round_id            integer NOT NULL REFERENCES registry.round,
    school_code         text NOT NULL,
    certified_by        text NOT NULL,
    certified_at        timestamptz NOT NULL DEFAULT now(),
    warnings_explained  integer NOT NULL,
    approved_by         text,
    approved_at         timestamptz,
    PRIMARY KEY (round_id, school_code)
);
