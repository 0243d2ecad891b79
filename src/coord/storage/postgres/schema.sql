-- The current coord schema for PostgreSQL, applied as a whole to a new database.
-- Every change here needs a numbered migration in migrations/ that turns the previous
-- schema into this one; tests/integration/test_schema.py proves the two agree.

CREATE TABLE coord_tasks (
    id                uuid PRIMARY KEY,
    name              text NOT NULL,
    queue             text NOT NULL,
    state             text NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
    priority          smallint NOT NULL DEFAULT 1 CHECK (priority BETWEEN 0 AND 3),
    payload           jsonb NOT NULL,
    idempotency_key   text,
    run_at            timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    attempt           integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts      integer NOT NULL CHECK (max_attempts >= 1),
    retry_backoff     double precision NOT NULL,
    retry_backoff_max double precision NOT NULL,
    timeout_s         double precision,
    heartbeat_s       double precision,
    stall_after       integer NOT NULL DEFAULT 3,
    concurrency_key   text,
    concurrency_limit integer,
    rate_key          text,
    owner             text,
    lease_expires_at  timestamptz,
    started_at        timestamptz,
    heartbeat_at      timestamptz,
    finished_at       timestamptz,
    progress          double precision,
    progress_message  text,
    checkpoint        jsonb,
    result            jsonb,
    error             jsonb,
    tokens_in         bigint NOT NULL DEFAULT 0,
    tokens_out        bigint NOT NULL DEFAULT 0,
    usd_micros        bigint NOT NULL DEFAULT 0,
    tool_seconds      double precision NOT NULL DEFAULT 0,
    CONSTRAINT coord_tasks_lease_iff_running
        CHECK ((state = 'running') = (owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CONSTRAINT coord_tasks_limit_has_key
        CHECK ((concurrency_key IS NULL) = (concurrency_limit IS NULL))
);

-- The claim walks this index in claim order.
CREATE INDEX coord_tasks_due ON coord_tasks (queue, priority DESC, run_at, id)
    WHERE state IN ('pending', 'failed');
-- Recovery finds expired leases without looking at workers.
CREATE INDEX coord_tasks_leases ON coord_tasks (lease_expires_at) WHERE state = 'running';
-- Per-key concurrency counts only running rows.
CREATE INDEX coord_tasks_running_keys ON coord_tasks (concurrency_key)
    WHERE state = 'running' AND concurrency_key IS NOT NULL;
CREATE UNIQUE INDEX coord_tasks_idempotency ON coord_tasks (name, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX coord_tasks_dead ON coord_tasks (finished_at) WHERE state = 'dead';

CREATE TABLE coord_steps (
    task_id    uuid NOT NULL REFERENCES coord_tasks (id) ON DELETE CASCADE,
    name       text NOT NULL,
    attempt    integer NOT NULL,
    result     jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, name)
);

CREATE TABLE coord_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic      text NOT NULL,
    task_id    uuid,
    actor      text,
    data       jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX coord_events_task ON coord_events (task_id, id) WHERE task_id IS NOT NULL;

CREATE TABLE coord_task_policies (
    name       text PRIMARY KEY,
    policy     jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE coord_rate_buckets (
    key        text PRIMARY KEY,
    capacity   double precision NOT NULL CHECK (capacity > 0),
    per_second double precision NOT NULL CHECK (per_second > 0),
    tokens     double precision NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
