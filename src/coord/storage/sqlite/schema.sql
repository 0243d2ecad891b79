-- The current coord schema for SQLite, applied as a whole to a new database.
-- Every change here needs a numbered migration in migrations/ that turns the previous
-- schema into this one; tests/integration/test_schema.py proves the two agree.
-- Times are UNIX epoch seconds (REAL); JSON is TEXT; ids are UUIDv7 text.

CREATE TABLE coord_tasks (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    queue             TEXT NOT NULL,
    state             TEXT NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
    priority          INTEGER NOT NULL DEFAULT 1 CHECK (priority BETWEEN 0 AND 3),
    payload           TEXT NOT NULL,
    idempotency_key   TEXT,
    run_at            REAL NOT NULL,
    created_at        REAL NOT NULL,
    attempt           INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts      INTEGER NOT NULL CHECK (max_attempts >= 1),
    retry_backoff     REAL NOT NULL,
    retry_backoff_max REAL NOT NULL,
    timeout_s         REAL,
    heartbeat_s       REAL,
    stall_after       INTEGER NOT NULL DEFAULT 3,
    concurrency_key   TEXT,
    concurrency_limit INTEGER,
    rate_key          TEXT,
    owner             TEXT,
    lease_expires_at  REAL,
    started_at        REAL,
    heartbeat_at      REAL,
    finished_at       REAL,
    progress          REAL,
    progress_message  TEXT,
    checkpoint        TEXT,
    result            TEXT,
    error             TEXT,
    tokens_in         INTEGER NOT NULL DEFAULT 0,
    tokens_out        INTEGER NOT NULL DEFAULT 0,
    usd_micros        INTEGER NOT NULL DEFAULT 0,
    tool_seconds      REAL NOT NULL DEFAULT 0,
    -- Tasks of workflow runs: where they sit in the run, and what their ctx shows.
    run_id TEXT, phase TEXT, run_step TEXT, run_input TEXT,
    CONSTRAINT coord_tasks_lease_iff_running
        CHECK ((state = 'running') = (owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CONSTRAINT coord_tasks_limit_has_key
        CHECK ((concurrency_key IS NULL) = (concurrency_limit IS NULL))
) STRICT;

CREATE INDEX coord_tasks_due ON coord_tasks (queue, priority DESC, run_at, id)
    WHERE state IN ('pending', 'failed');
CREATE INDEX coord_tasks_leases ON coord_tasks (lease_expires_at) WHERE state = 'running';
CREATE INDEX coord_tasks_running_keys ON coord_tasks (concurrency_key)
    WHERE state = 'running' AND concurrency_key IS NOT NULL;
CREATE UNIQUE INDEX coord_tasks_idempotency ON coord_tasks (name, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX coord_tasks_dead ON coord_tasks (finished_at) WHERE state = 'dead';
CREATE INDEX coord_tasks_run ON coord_tasks (run_id, phase) WHERE run_id IS NOT NULL;

CREATE TABLE coord_steps (
    task_id    TEXT NOT NULL REFERENCES coord_tasks (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    attempt    INTEGER NOT NULL,
    result     TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (task_id, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE coord_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    topic      TEXT NOT NULL,
    task_id    TEXT,
    actor      TEXT,
    data       TEXT,
    created_at REAL NOT NULL
    , message_id TEXT, run_id TEXT) STRICT;
CREATE INDEX coord_events_task ON coord_events (task_id, id) WHERE task_id IS NOT NULL;
CREATE INDEX coord_events_run ON coord_events (run_id, id) WHERE run_id IS NOT NULL;

CREATE TABLE coord_task_policies (
    name       TEXT PRIMARY KEY,
    policy     TEXT NOT NULL,
    updated_at REAL NOT NULL
) STRICT;

CREATE TABLE coord_rate_buckets (
    key        TEXT PRIMARY KEY,
    capacity   REAL NOT NULL CHECK (capacity > 0),
    per_second REAL NOT NULL CHECK (per_second > 0),
    tokens     REAL NOT NULL,
    updated_at REAL NOT NULL
) STRICT;
CREATE INDEX coord_events_message ON coord_events (message_id, id) WHERE message_id IS NOT NULL;

-- Agents are never deleted: removing one sets removed_at, so its mailbox sequence
-- (last_seq) stays gap-free if the name is added again, and its messages are kept.
CREATE TABLE coord_agents (
    name         TEXT PRIMARY KEY,
    role         TEXT,
    domains      TEXT NOT NULL DEFAULT '[]',
    description  TEXT,
    human        INTEGER NOT NULL DEFAULT 0 CHECK (human IN (0, 1)),
    last_seq     INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    created_at   REAL NOT NULL,
    last_seen_at REAL,
    removed_at   REAL
) STRICT;

CREATE TABLE coord_subscriptions (
    topic      TEXT NOT NULL,
    agent      TEXT NOT NULL REFERENCES coord_agents (name),
    created_at REAL NOT NULL,
    PRIMARY KEY (topic, agent)
) STRICT, WITHOUT ROWID;
CREATE INDEX coord_subscriptions_agent ON coord_subscriptions (agent, topic);

CREATE TABLE coord_messages (
    id              TEXT PRIMARY KEY,
    sender          TEXT NOT NULL,
    address         TEXT NOT NULL,
    subject         TEXT NOT NULL CHECK (length(subject) > 0),
    body            TEXT NOT NULL,
    priority        INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),
    thread_id       TEXT NOT NULL,
    reply_to        TEXT REFERENCES coord_messages (id),
    idempotency_key TEXT,
    created_at      REAL NOT NULL,
    expires_at      REAL
) STRICT;
CREATE INDEX coord_messages_thread ON coord_messages (thread_id, id);
CREATE UNIQUE INDEX coord_messages_idempotency ON coord_messages (sender, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- One row per recipient; seq numbers each mailbox 1, 2, 3... without gaps.
CREATE TABLE coord_deliveries (
    agent        TEXT NOT NULL,
    seq          INTEGER NOT NULL CHECK (seq >= 1),
    message_id   TEXT NOT NULL REFERENCES coord_messages (id),
    priority     INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),
    state        TEXT NOT NULL DEFAULT 'delivered'
                 CHECK (state IN ('delivered', 'read', 'acked', 'expired')),
    delivered_at REAL NOT NULL,
    read_at      REAL,
    acked_at     REAL,
    expired_at   REAL,
    expires_at   REAL,
    PRIMARY KEY (agent, seq)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX coord_deliveries_message ON coord_deliveries (message_id, agent);
CREATE INDEX coord_deliveries_unread ON coord_deliveries (agent, priority DESC, seq)
    WHERE state = 'delivered';
-- The expiry sweep reads only live deliveries that have a TTL.
CREATE INDEX coord_deliveries_expiry ON coord_deliveries (expires_at)
    WHERE expires_at IS NOT NULL AND state IN ('delivered', 'read');

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
-- One entry per sealed event: hash = SHA-256 over the canonical JSON (RFC 8785) of the
-- entry's seq, the previous entry's hash and the event. No foreign key on purpose: a
-- deleted event must show up in `coord audit verify`. SQLite writers are serialized,
-- so event ids grow in commit order and the sealer simply continues after the head.
CREATE TABLE coord_ledger (
    seq       INTEGER PRIMARY KEY CHECK (seq > 0),
    event_id  INTEGER NOT NULL UNIQUE,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    sealed_at REAL NOT NULL
) STRICT;

CREATE TABLE coord_ledger_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    seq       INTEGER NOT NULL DEFAULT 0,
    hash      TEXT NOT NULL,
    event_id  INTEGER NOT NULL DEFAULT 0,
    sealed_at REAL
) STRICT;
INSERT INTO coord_ledger_head (id, hash)
VALUES (1, '0000000000000000000000000000000000000000000000000000000000000000');

-- API keys: the secret is never stored, only its SHA-256.
CREATE TABLE coord_api_keys (
    id           TEXT PRIMARY KEY,
    agent        TEXT NOT NULL REFERENCES coord_agents (name),
    role         TEXT,
    secret_hash  TEXT NOT NULL,
    created_by   TEXT,
    created_at   REAL NOT NULL,
    expires_at   REAL,
    revoked_at   REAL,
    last_used_at REAL
) STRICT;
CREATE INDEX coord_api_keys_agent ON coord_api_keys (agent);

-- Secrets encrypted at rest (Fernet); key_id names the key that encrypted it.
CREATE TABLE coord_secrets (
    name       TEXT PRIMARY KEY,
    ciphertext TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    created_by TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
) STRICT;

-- The first response to an API request with an Idempotency-Key, per caller and key.
CREATE TABLE coord_idempotency (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    response     TEXT NOT NULL,
    created_at   REAL NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT;

-- Refused API requests per client address and window (see migration 0005_denials).
CREATE TABLE coord_denials (
    address      TEXT NOT NULL,
    window_start REAL NOT NULL,
    window_end   REAL NOT NULL,
    denials      INTEGER NOT NULL DEFAULT 0,
    failures     INTEGER NOT NULL DEFAULT 0,
    recorded     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (address, window_start)
) STRICT;
CREATE INDEX coord_denials_window_end ON coord_denials (window_end);
