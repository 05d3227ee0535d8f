-- 0007 round pipeline: a round run by the jobs, stage by stage (extract → check → worksheets → issued → closed), the
-- join of its worksheet fan-out (one task per school with open problems), the schedules that start rounds, and the
-- quality snapshots taken during a round and at its close.

-- One row per round started through the jobs. Stages only move forward, each by a conditional update, so a job run
-- twice (a retry, a second worker) moves its stage once. The round closes on closes_on (a delayed job), or earlier by
-- hand. problem holds the last failure of a stage's job (cleared when
-- the stage moves on), for `sdq round status` and the console.
CREATE TABLE registry.round_run (
    round_id          integer PRIMARY KEY REFERENCES registry.round,
    stage             text NOT NULL CHECK (stage IN ('extracting', 'checking', 'issuing', 'issued', 'closed')),
    sources           text[] NOT NULL,
    output_directory  text NOT NULL,
    language          text NOT NULL DEFAULT 'zh' CHECK (language IN ('zh', 'en')),
    deadline          date NOT NULL,
    closes_on         date NOT NULL,
    contact           text NOT NULL DEFAULT '',
    schedule_name     text,
    schools_total     integer,
    problem           text,
    started_at        timestamptz NOT NULL DEFAULT now(),
    started_by        text NOT NULL,
    stage_changed_at  timestamptz NOT NULL DEFAULT now(),
    issued_at         timestamptz,
    closed_at         timestamptz
);

-- The worksheet fan-out of a round: one task per school with open problems when the checks finished. A task is done
-- once the school's worksheet is issued (or found up to date); the round is "issued" when none is left. worker is the
-- process that did it (host:pid), so a run over several workers shows how the work was split.
CREATE TABLE registry.round_school_task (
    round_id     integer NOT NULL REFERENCES registry.round,
    school_code  text NOT NULL,
    done_at      timestamptz,
    result       text,
    worker       text,
    PRIMARY KEY (round_id, school_code)
);
CREATE INDEX ON registry.round_school_task (round_id) WHERE done_at IS NULL;

-- Recurring rounds. The jobs' scheduler (Hangfire) holds a recurring job per schedule, named round-schedule:<name>;
-- this table is what the worker registers them from, so a schedule survives a new Hangfire storage.
CREATE TABLE registry.round_schedule (
    name              text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,23}$'),
    cron              text NOT NULL,
    time_zone         text NOT NULL DEFAULT 'Asia/Shanghai',
    sources           text[] NOT NULL,
    output_directory  text NOT NULL,
    deadline_days     integer NOT NULL DEFAULT 21 CHECK (deadline_days BETWEEN 1 AND 120),
    close_after_days  integer NOT NULL DEFAULT 7 CHECK (close_after_days BETWEEN 0 AND 120),
    language          text NOT NULL DEFAULT 'zh' CHECK (language IN ('zh', 'en')),
    contact           text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        text NOT NULL
);

-- A quality snapshot: aggregates only (no personal data), per school and rule, and per school. Taken live during a
-- round (at most one per round and day: a later one that day replaces it) and once at close.
CREATE TABLE reporting.quality_snapshot (
    snapshot_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    round_id     integer NOT NULL REFERENCES registry.round,
    kind         text NOT NULL CHECK (kind IN ('live', 'close')),
    taken_on     date NOT NULL,
    taken_at     timestamptz NOT NULL DEFAULT now(),
    taken_by     text NOT NULL
);
CREATE UNIQUE INDEX quality_snapshot_live_day ON reporting.quality_snapshot (round_id, taken_on) WHERE kind = 'live';
CREATE UNIQUE INDEX quality_snapshot_close ON reporting.quality_snapshot (round_id) WHERE kind = 'close';

-- Per school and rule: the round's findings (superseded ones left out) by what became of them.
CREATE TABLE reporting.snapshot_rule (
    snapshot_id    bigint NOT NULL REFERENCES reporting.quality_snapshot ON DELETE CASCADE,
    district_code  text,
    school_code    text NOT NULL,
    rule_id        text NOT NULL,
    severity       text NOT NULL,
    found          integer NOT NULL,
    open           integer NOT NULL,
    resolved       integer NOT NULL,
    confirmed      integer NOT NULL,
    removed        integer NOT NULL,
    PRIMARY KEY (snapshot_id, school_code, rule_id, severity)
);

-- Per school: size, the counts managers follow, and the worksheet exchange.
CREATE TABLE reporting.snapshot_school (
    snapshot_id               bigint NOT NULL REFERENCES reporting.quality_snapshot ON DELETE CASCADE,
    district_code             text,
    school_code               text NOT NULL,
    students                  integer NOT NULL,
    students_without_id       integer NOT NULL,
    cross_school_duplicates   integer NOT NULL,
    open_errors               integer NOT NULL,
    open_warnings             integer NOT NULL,
    first_issued_at           timestamptz,
    deadline                  date,
    first_returned_at         timestamptz,
    returns                   integer NOT NULL,
    PRIMARY KEY (snapshot_id, school_code)
);
