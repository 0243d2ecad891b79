-- 0003: workflow definitions, runs, phases and artifacts; tasks and events of runs.

ALTER TABLE coord_tasks ADD COLUMN run_id uuid;
ALTER TABLE coord_tasks ADD COLUMN phase text;
ALTER TABLE coord_tasks ADD COLUMN run_step jsonb;
ALTER TABLE coord_tasks ADD COLUMN run_input jsonb;
CREATE INDEX coord_tasks_run ON coord_tasks (run_id, phase) WHERE run_id IS NOT NULL;

ALTER TABLE coord_events ADD COLUMN run_id uuid;
CREATE INDEX coord_events_run ON coord_events (run_id, id) WHERE run_id IS NOT NULL;

CREATE TABLE coord_workflows (
    name       text PRIMARY KEY,
    definition jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A run keeps the definition it started with, so a workflow changed later does not
-- change the runs already going.
CREATE TABLE coord_runs (
    id              uuid PRIMARY KEY,
    workflow        text NOT NULL,
    definition      jsonb NOT NULL,
    input           jsonb,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'running', 'paused', 'compensating',
                                     'succeeded', 'failed', 'cancelled')),
    reason          text,
    detail          jsonb,
    budget          jsonb NOT NULL DEFAULT '{}',
    idempotency_key text,
    actor           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX coord_runs_idempotency ON coord_runs (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- The reconciler looks only at active runs.
CREATE INDEX coord_runs_active ON coord_runs (updated_at)
    WHERE state IN ('running', 'compensating');
CREATE INDEX coord_runs_workflow ON coord_runs (workflow, id);

CREATE TABLE coord_phases (
    run_id       uuid NOT NULL REFERENCES coord_runs (id),
    name         text NOT NULL,
    position     integer NOT NULL,
    state        text NOT NULL DEFAULT 'waiting'
                 CHECK (state IN ('waiting', 'running', 'fixing', 'awaiting_approval',
                                  'succeeded', 'failed', 'cancelled', 'compensated')),
    attempt      integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    loops        integer NOT NULL DEFAULT 0 CHECK (loops >= 0),
    started_at   timestamptz,
    finished_at  timestamptz,
    deadline_at  timestamptz,
    result       jsonb,
    gate         jsonb,
    error        jsonb,
    budget       jsonb NOT NULL DEFAULT '{}',
    items        jsonb,
    waiver       jsonb,
    approval     jsonb,
    finished_seq integer,
    PRIMARY KEY (run_id, name)
);

-- Content-addressed: the same bytes are stored once, whoever produced them.
CREATE TABLE coord_artifacts (
    digest     text PRIMARY KEY CHECK (digest LIKE 'sha256:%'),
    content    bytea NOT NULL,
    size       bigint NOT NULL CHECK (size >= 0),
    media_type text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Who stored which artifact under which name, from what (provenance).
CREATE TABLE coord_run_artifacts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id        uuid NOT NULL REFERENCES coord_runs (id),
    phase         text NOT NULL,
    phase_attempt integer NOT NULL,
    name          text NOT NULL,
    digest        text NOT NULL REFERENCES coord_artifacts (digest),
    task_id       uuid NOT NULL,
    task_attempt  integer NOT NULL,
    producer      text NOT NULL,
    tool          text,
    inputs        jsonb NOT NULL DEFAULT '[]',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX coord_run_artifacts_run ON coord_run_artifacts (run_id, phase, phase_attempt);
