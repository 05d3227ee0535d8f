-- 0026 practice rounds (issue 20; docs/training.md). A practice round lives in a database of its own (the main database's
-- name + "_practice"), made by `sdq training create` from a generated province: nothing of it can reach the real trends,
-- the registry's changes or the real audit log and export register. In the real database these tables stay empty; a
-- row in training.practice is what marks a database as a practice one (every page and file of it then says so).
--
--   training.practice  the one row of a practice database: its round, seed, schools, trainees, who made it and when
--   training.trainee   each trainee's practice accounts (a school, its district, a class teacher of that school)

CREATE SCHEMA training;

CREATE TABLE training.practice (
    only_row     boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    round_code   text NOT NULL,
    seed         integer NOT NULL,
    schools      integer NOT NULL CHECK (schools >= 1),
    trainees     integer NOT NULL CHECK (trainees >= 1),
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL,
    reset_at     timestamptz
);

CREATE TABLE training.trainee (
    trainee_no             integer PRIMARY KEY CHECK (trainee_no >= 1),
    school_code            text NOT NULL,
    district_code          text NOT NULL,
    school_account         text NOT NULL UNIQUE REFERENCES access.account,
    district_account       text NOT NULL UNIQUE REFERENCES access.account,
    class_teacher_account  text UNIQUE REFERENCES access.account,
    class_name             text
);

-- The portal reads what marks a practice database; only the command line (the owner) makes, resets or removes one.
GRANT USAGE ON SCHEMA training TO sdq_app;
REVOKE ALL ON training.practice, training.trainee FROM sdq_app;
GRANT SELECT ON training.practice, training.trainee TO sdq_app;
