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
    -- Tasks of workflow runs: where they sit in the run, and what their ctx shows.
    run_id            uuid,
    phase             text,
    run_step          jsonb,
    run_input         jsonb,
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
CREATE INDEX coord_tasks_run ON coord_tasks (run_id, phase) WHERE run_id IS NOT NULL;

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
    created_at timestamptz NOT NULL DEFAULT now(),
    message_id uuid,
    run_id     uuid,
    xid        xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX coord_events_task ON coord_events (task_id, id) WHERE task_id IS NOT NULL;
CREATE INDEX coord_events_run ON coord_events (run_id, id) WHERE run_id IS NOT NULL;
CREATE INDEX coord_events_seal ON coord_events (xid, id);

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
CREATE INDEX coord_events_message ON coord_events (message_id, id) WHERE message_id IS NOT NULL;

-- Agents are never deleted: removing one sets removed_at, so its mailbox sequence
-- (last_seq) stays gap-free if the name is added again, and its messages are kept.
-- A send locks the row of each recipient to take the next numbers of its sequence.
CREATE TABLE coord_agents (
    name         text PRIMARY KEY,
    role         text,
    domains      jsonb NOT NULL DEFAULT '[]',
    description  text,
    human        boolean NOT NULL DEFAULT false,
    last_seq     bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz,
    removed_at   timestamptz
);

CREATE TABLE coord_subscriptions (
    topic      text NOT NULL,
    agent      text NOT NULL REFERENCES coord_agents (name),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, agent)
);
CREATE INDEX coord_subscriptions_agent ON coord_subscriptions (agent, topic);

CREATE TABLE coord_messages (
    id              uuid PRIMARY KEY,
    sender          text NOT NULL,
    address         text NOT NULL,
    subject         text NOT NULL CHECK (length(subject) > 0),
    body            jsonb NOT NULL,
    priority        smallint NOT NULL CHECK (priority BETWEEN 0 AND 3),
    thread_id       uuid NOT NULL,
    reply_to        uuid REFERENCES coord_messages (id),
    idempotency_key text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz
);
CREATE INDEX coord_messages_thread ON coord_messages (thread_id, id);
CREATE UNIQUE INDEX coord_messages_idempotency ON coord_messages (sender, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- One row per recipient; seq numbers each mailbox 1, 2, 3... without gaps.
CREATE TABLE coord_deliveries (
    agent        text NOT NULL,
    seq          bigint NOT NULL CHECK (seq >= 1),
    message_id   uuid NOT NULL REFERENCES coord_messages (id),
    priority     smallint NOT NULL CHECK (priority BETWEEN 0 AND 3),
    state        text NOT NULL DEFAULT 'delivered'
                 CHECK (state IN ('delivered', 'read', 'acked', 'expired')),
    delivered_at timestamptz NOT NULL DEFAULT now(),
    read_at      timestamptz,
    acked_at     timestamptz,
    expired_at   timestamptz,
    expires_at   timestamptz,
    PRIMARY KEY (agent, seq)
);
CREATE UNIQUE INDEX coord_deliveries_message ON coord_deliveries (message_id, agent);
CREATE INDEX coord_deliveries_unread ON coord_deliveries (agent, priority DESC, seq)
    WHERE state = 'delivered';
-- The expiry sweep reads only live deliveries that have a TTL.
CREATE INDEX coord_deliveries_expiry ON coord_deliveries (expires_at)
    WHERE expires_at IS NOT NULL AND state IN ('delivered', 'read');

-- A time-ordered UUIDv7 made in the database (PostgreSQL before 18 has none): the
-- millisecond clock in the first 48 bits over a random v4, with the version set to 7.
CREATE FUNCTION coord_uuid7() RETURNS uuid
LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp())
                                                     * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

-- The whole of a send batch in one round trip and a few set-based statements (see
-- PostgresMailbox.send). Input: a JSON array of {id, sender, kind (agent|topic|all),
-- name, address, subject, body, priority, thread, reply_to, key, ttl, content_sha256
-- (the hash of subject and body, which message.sent carries)}; output:
-- {id of each message given: {id, created, thread_id, recipients: [[agent, seq]]}}.
-- A refusal raises SQLSTATE CD404/CD409/CD422 with the reason as its message and
-- the message id and facts (JSON) as its detail; the caller turns it into coord's
-- error. Recipients' rows are locked in name order before their sequences move, so
-- concurrent batches cannot deadlock; the sequence update rolls back with a failed
-- send, so no gap is left. Agent handler tasks are built from their registered
-- policy (max_attempts = retries + 1; the rate bucket is rate_limit_key or the task
-- name), keyed by the message id.
CREATE FUNCTION coord_send(batch jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
    conflict jsonb;
    existing jsonb;
    results jsonb;
BEGIN
    -- Keyed messages sent before: the same message again, or a conflict. (Lookups
    -- here and below are written as correlated subqueries so that the planner, which
    -- guesses 100 rows for any JSON array, still uses the indexes.)
    SELECT coalesce(jsonb_object_agg(i.value->>'id', m.id), '{}'),
           (array_agg(jsonb_build_object('message', i.value->>'id', 'id', m.id)
                      ORDER BY i.ordinality)
            FILTER (WHERE m.address <> i.value->>'address'
                       OR m.subject <> i.value->>'subject'
                       OR m.body <> i.value->'body'
                       OR m.priority <> (i.value->>'priority')::int
                       OR m.reply_to IS DISTINCT FROM (i.value->>'reply_to')::uuid))[1]
    INTO existing, conflict
    FROM jsonb_array_elements(batch) WITH ORDINALITY AS i
    CROSS JOIN LATERAL (
        SELECT k.id, k.address, k.subject, k.body, k.priority, k.reply_to
        FROM coord_messages AS k
        WHERE k.sender = i.value->>'sender' AND k.idempotency_key = i.value->>'key'
        OFFSET 0
    ) AS m
    WHERE i.value->>'key' IS NOT NULL;
    IF conflict IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'CD409', MESSAGE = 'key_conflict',
            DETAIL = conflict::text;
    END IF;

    -- The first refusal in batch order: sender, then thread, then recipient.
    SELECT checked.message, checked.parent, checked.reason INTO bad
    FROM (
        SELECT i.ordinality, i.value->>'id' AS message, c.parent,
               CASE WHEN NOT c.sender_ok THEN 'unknown_sender'
                    WHEN i.value->>'reply_to' IS NOT NULL AND c.parent IS NULL THEN 'no_parent'
                    WHEN i.value->>'reply_to' IS NOT NULL AND i.value->>'thread' IS NOT NULL
                         AND c.parent <> (i.value->>'thread')::uuid THEN 'thread_mismatch'
                    WHEN i.value->>'reply_to' IS NULL AND NOT c.thread_ok THEN 'no_thread'
                    WHEN NOT c.recipient_ok THEN 'unknown_recipient'
               END AS reason
        FROM jsonb_array_elements(batch) WITH ORDINALITY AS i
        CROSS JOIN LATERAL (
            SELECT EXISTS (SELECT 1 FROM coord_agents AS s
                           WHERE s.name = i.value->>'sender' AND s.removed_at IS NULL)
                       AS sender_ok,
                   (SELECT p.thread_id FROM coord_messages AS p
                    WHERE p.id = (i.value->>'reply_to')::uuid) AS parent,
                   (i.value->>'thread' IS NULL
                    OR EXISTS (SELECT 1 FROM coord_messages AS t
                               WHERE t.thread_id = (i.value->>'thread')::uuid)) AS thread_ok,
                   (i.value->>'kind' <> 'agent'
                    OR EXISTS (SELECT 1 FROM coord_agents AS r
                               WHERE r.name = i.value->>'name' AND r.removed_at IS NULL))
                       AS recipient_ok
            OFFSET 0
        ) AS c
        WHERE NOT existing ? (i.value->>'id')
    ) AS checked
    WHERE checked.reason IS NOT NULL
    ORDER BY checked.ordinality LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = CASE bad.reason WHEN 'thread_mismatch' THEN 'CD422' ELSE 'CD404' END,
            MESSAGE = bad.reason,
            DETAIL = jsonb_build_object('message', bad.message, 'parent', bad.parent)::text;
    END IF;

    WITH input AS (
        SELECT i.ordinality AS ord, (i.value->>'id')::uuid AS id, i.value->>'sender' AS sender,
               i.value->>'kind' AS kind, i.value->>'name' AS name,
               i.value->>'address' AS address, i.value->>'subject' AS subject,
               i.value->'body' AS body, (i.value->>'priority')::smallint AS priority,
               coalesce((SELECT p.thread_id FROM coord_messages AS p
                         WHERE p.id = (i.value->>'reply_to')::uuid),
                        (i.value->>'thread')::uuid, (i.value->>'id')::uuid) AS thread_id,
               (i.value->>'reply_to')::uuid AS reply_to, i.value->>'key' AS key,
               now() + make_interval(secs => (i.value->>'ttl')::float8) AS expires_at,
               i.value->>'content_sha256' AS content_sha256
        FROM jsonb_array_elements(batch) WITH ORDINALITY AS i
        WHERE NOT existing ? (i.value->>'id')
    ), targets AS (
        SELECT i.ord, i.id, i.name AS agent FROM input AS i WHERE i.kind = 'agent'
        UNION ALL
        SELECT i.ord, i.id, s.agent FROM input AS i
        CROSS JOIN LATERAL (
            SELECT x.agent FROM coord_subscriptions AS x
            JOIN coord_agents AS a ON a.name = x.agent AND a.removed_at IS NULL
            WHERE x.topic = i.name AND x.agent <> i.sender
            OFFSET 0
        ) AS s
        WHERE i.kind = 'topic'
        UNION ALL
        SELECT i.ord, i.id, a.name FROM input AS i
        JOIN coord_agents AS a ON i.kind = 'all' AND a.removed_at IS NULL AND a.name <> i.sender
    ), counts AS (
        SELECT agent, count(*) AS n FROM targets GROUP BY agent
    ), locked AS MATERIALIZED (
        SELECT a.name FROM coord_agents AS a
        WHERE a.name = ANY(ARRAY(SELECT agent FROM counts)) ORDER BY a.name FOR UPDATE
    ), bumped AS (
        UPDATE coord_agents AS a SET last_seq = a.last_seq + c.n
        FROM counts AS c
        WHERE a.name = ANY(ARRAY(SELECT name FROM locked)) AND a.name = c.agent
        RETURNING a.name, a.last_seq - c.n AS base
    ), numbered AS (
        SELECT t.ord, t.id, t.agent,
               b.base + row_number() OVER (PARTITION BY t.agent ORDER BY t.ord) AS seq
        FROM targets AS t JOIN bumped AS b ON b.name = t.agent
    ), messages AS (
        INSERT INTO coord_messages (
            id, sender, address, subject, body, priority, thread_id, reply_to,
            idempotency_key, expires_at)
        SELECT id, sender, address, subject, body, priority, thread_id, reply_to, key,
               expires_at
        FROM input
        RETURNING id
    ), deliveries AS (
        INSERT INTO coord_deliveries (agent, seq, message_id, priority, expires_at)
        SELECT n.agent, n.seq, n.id, i.priority, i.expires_at
        FROM numbered AS n JOIN input AS i ON i.id = n.id
        RETURNING agent, seq, message_id, priority
    ), message_events AS (
        INSERT INTO coord_events (topic, message_id, actor, data)
        SELECT 'message.sent', i.id, i.sender,
               jsonb_build_object('to', i.address, 'thread_id', i.thread_id,
                                  'recipients', coalesce(c.n, 0),
                                  'content_sha256', i.content_sha256)
        FROM input AS i
        LEFT JOIN (SELECT id, count(*) AS n FROM targets GROUP BY id) AS c ON c.id = i.id
        UNION ALL
        SELECT 'message.delivered', d.message_id, i.sender,
               jsonb_build_object('agent', d.agent, 'seq', d.seq)
        FROM deliveries AS d JOIN input AS i ON i.id = d.message_id
    ), handlers AS (
        INSERT INTO coord_tasks (
            id, name, queue, priority, payload, idempotency_key, run_at, max_attempts,
            retry_backoff, retry_backoff_max, timeout_s, heartbeat_s, stall_after,
            concurrency_key, concurrency_limit, rate_key)
        SELECT coord_uuid7(), p.name, p.policy->>'queue', d.priority,
               jsonb_build_object('message_id', d.message_id), d.message_id::text, now(),
               (p.policy->>'retries')::int + 1, (p.policy->>'retry_backoff')::float8,
               (p.policy->>'retry_backoff_max')::float8, (p.policy->>'timeout')::float8,
               (p.policy->>'heartbeat')::float8, (p.policy->>'stall_after')::int,
               p.policy->>'concurrency_key', (p.policy->>'concurrency_limit')::int,
               CASE WHEN jsonb_typeof(p.policy->'rate_limit') = 'object'
                    THEN coalesce(p.policy->>'rate_limit_key', p.name) END
        FROM deliveries AS d
        CROSS JOIN LATERAL (
            SELECT x.name, x.policy FROM coord_task_policies AS x
            WHERE x.name = 'agent:' || d.agent OFFSET 0
        ) AS p
        ORDER BY d.message_id
        ON CONFLICT (name, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING id, queue, payload
    ), handler_events AS (
        INSERT INTO coord_events (topic, task_id, actor, data)
        SELECT 'task.enqueued', h.id, i.sender,
               -- the payload's hash: its canonical JSON is {"message_id":"<id>"}
               jsonb_build_object('payload_sha256', encode(sha256(convert_to(
                   '{"message_id":"' || (h.payload->>'message_id') || '"}', 'UTF8')), 'hex'))
        FROM handlers AS h JOIN input AS i ON i.id = (h.payload->>'message_id')::uuid
    ), seen AS (
        UPDATE coord_agents SET last_seen_at = now()
        WHERE name = ANY(ARRAY(SELECT a.name FROM coord_agents AS a
                               WHERE a.name = ANY(ARRAY(SELECT sender FROM input))
                                 AND a.name <> ALL(ARRAY(SELECT agent FROM counts))
                               FOR UPDATE SKIP LOCKED))
    ), wake AS (
        SELECT pg_notify('coord_due', queue) FROM (SELECT DISTINCT queue FROM handlers) AS q
        UNION ALL
        SELECT pg_notify('coord_message', '') WHERE EXISTS (SELECT 1 FROM deliveries)
    )
    SELECT coalesce(jsonb_object_agg(i.id, jsonb_build_object(
               'id', i.id, 'created', true, 'thread_id', i.thread_id,
               'recipients', coalesce(r.recipients, '[]'))), '{}')
    INTO results
    FROM input AS i
    LEFT JOIN (SELECT message_id, jsonb_agg(jsonb_build_array(agent, seq) ORDER BY agent)
                   AS recipients
               FROM deliveries GROUP BY message_id) AS r ON r.message_id = i.id
    CROSS JOIN (SELECT count(*) FROM wake) AS w;  -- a SELECT CTE runs only if read

    -- Keyed messages found: their original results.
    SELECT results || coalesce(jsonb_object_agg(k.key, jsonb_build_object(
               'id', m.id, 'created', false, 'thread_id', m.thread_id,
               'recipients', (SELECT coalesce(jsonb_agg(jsonb_build_array(d.agent, d.seq)
                                                        ORDER BY d.agent), '[]')
                              FROM coord_deliveries AS d WHERE d.message_id = m.id))), '{}')
    INTO results
    FROM jsonb_each_text(existing) AS k
    CROSS JOIN LATERAL (SELECT x.id, x.thread_id FROM coord_messages AS x
                        WHERE x.id = k.value::uuid OFFSET 0) AS m;
    RETURN results;
END
$$;

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

-- One entry per sealed event: hash = SHA-256 over the canonical JSON (RFC 8785) of the
-- entry's seq, the previous entry's hash and the event. No foreign key on purpose:
-- a deleted event must show up in `coord audit verify`, not be prevented by a constraint
-- that the same attacker could drop.
CREATE TABLE coord_ledger (
    seq       bigint PRIMARY KEY CHECK (seq > 0),
    event_id  bigint NOT NULL UNIQUE,
    prev_hash text NOT NULL,
    hash      text NOT NULL,
    sealed_at timestamptz NOT NULL DEFAULT now()
);

-- The chain head, one row: where the next sealer continues (its row lock makes one
-- sealer at a time).
CREATE TABLE coord_ledger_head (
    id        smallint PRIMARY KEY CHECK (id = 1),
    seq       bigint NOT NULL DEFAULT 0,
    hash      text NOT NULL,
    event_xid xid8 NOT NULL DEFAULT '0',
    event_id  bigint NOT NULL DEFAULT 0,
    sealed_at timestamptz
);
INSERT INTO coord_ledger_head (id, hash)
VALUES (1, '0000000000000000000000000000000000000000000000000000000000000000');

-- API keys: the secret is never stored, only its SHA-256.
CREATE TABLE coord_api_keys (
    id           text PRIMARY KEY,
    agent        text NOT NULL REFERENCES coord_agents (name),
    role         text,
    secret_hash  text NOT NULL,
    created_by   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX coord_api_keys_agent ON coord_api_keys (agent);

-- Secrets encrypted at rest (Fernet); key_id names the key that encrypted it, so a
-- rotation knows what is left to re-encrypt.
CREATE TABLE coord_secrets (
    name       text PRIMARY KEY,
    ciphertext text NOT NULL,
    key_id     text NOT NULL,
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The first response to an API request with an Idempotency-Key, per caller and key.
CREATE TABLE coord_idempotency (
    scope        text NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    status       smallint NOT NULL,
    response     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

-- Refused API requests per client address and window (see migration 0006_denials).
CREATE TABLE coord_denials (
    address      text NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    denials      integer NOT NULL DEFAULT 0,
    failures     integer NOT NULL DEFAULT 0,
    recorded     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (address, window_start)
);
CREATE INDEX coord_denials_window_end ON coord_denials (window_end);
