-- 0003: workflow definitions, runs, phases and artifacts; tasks and events of runs.

ALTER TABLE coord_tasks ADD COLUMN run_id TEXT;
ALTER TABLE coord_tasks ADD COLUMN phase TEXT;
ALTER TABLE coord_tasks ADD COLUMN run_step TEXT;
ALTER TABLE coord_tasks ADD COLUMN run_input TEXT;
CREATE INDEX coord_tasks_run ON coord_tasks (run_id, phase) WHERE run_id IS NOT NULL;

ALTER TABLE coord_events ADD COLUMN run_id TEXT;
CREATE INDEX coord_events_run ON coord_events (run_id, id) WHERE run_id IS NOT NULL;

CREATE TABLE coord_workflows (
    name       TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    updated_at REAL NOT NULL
) STRICT;

-- A run keeps the definition it started with, so a workflow changed later does not
-- change the runs already going.
CREATE TABLE coord_runs (
    id              TEXT PRIMARY KEY,
    workflow        TEXT NOT NULL,
    definition      TEXT NOT NULL,
    input           TEXT,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'running', 'paused', 'compensating',
                                     'succeeded', 'failed', 'cancelled')),
    reason          TEXT,
    detail          TEXT,
    budget          TEXT NOT NULL DEFAULT '{}',
    idempotency_key TEXT,
    actor           TEXT,
    created_at      REAL NOT NULL,
    started_at      REAL,
    finished_at     REAL,
    updated_at      REAL NOT NULL
) STRICT;
CREATE UNIQUE INDEX coord_runs_idempotency ON coord_runs (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX coord_runs_active ON coord_runs (updated_at)
    WHERE state IN ('running', 'compensating');
CREATE INDEX coord_runs_workflow ON coord_runs (workflow, id);

CREATE TABLE coord_phases (
    run_id       TEXT NOT NULL REFERENCES coord_runs (id),
    name         TEXT NOT NULL,
    position     INTEGER NOT NULL,
    state        TEXT NOT NULL DEFAULT 'waiting'
                 CHECK (state IN ('waiting', 'running', 'fixing', 'awaiting_approval',
                                  'succeeded', 'failed', 'cancelled', 'compensated')),
    attempt      INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    loops        INTEGER NOT NULL DEFAULT 0 CHECK (loops >= 0),
    started_at   REAL,
    finished_at  REAL,
    deadline_at  REAL,
    result       TEXT,
    gate         TEXT,
    error        TEXT,
    budget       TEXT NOT NULL DEFAULT '{}',
    items        TEXT,
    waiver       TEXT,
    approval     TEXT,
    finished_seq INTEGER,
    PRIMARY KEY (run_id, name)
) STRICT, WITHOUT ROWID;

-- Content-addressed: the same bytes are stored once, whoever produced them.
CREATE TABLE coord_artifacts (
    digest     TEXT PRIMARY KEY CHECK (digest LIKE 'sha256:%'),
    content    BLOB NOT NULL,
    size       INTEGER NOT NULL CHECK (size >= 0),
    media_type TEXT NOT NULL,
    created_at REAL NOT NULL
) STRICT;

-- Who stored which artifact under which name, from what (provenance).
CREATE TABLE coord_run_artifacts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        TEXT NOT NULL REFERENCES coord_runs (id),
    phase         TEXT NOT NULL,
    phase_attempt INTEGER NOT NULL,
    name          TEXT NOT NULL,
    digest        TEXT NOT NULL REFERENCES coord_artifacts (digest),
    task_id       TEXT NOT NULL,
    task_attempt  INTEGER NOT NULL,
    producer      TEXT NOT NULL,
    tool          TEXT,
    inputs        TEXT NOT NULL DEFAULT '[]',
    created_at    REAL NOT NULL
) STRICT;
CREATE INDEX coord_run_artifacts_run ON coord_run_artifacts (run_id, phase, phase_attempt);
