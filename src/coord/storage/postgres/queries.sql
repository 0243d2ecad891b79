-- Named queries for the PostgreSQL store. Placeholders are %(name)s (psycopg).
-- Times come from the database clock, so workers on many machines agree. now() is the
-- start of the transaction; a lease (and the started/heartbeat times that go with it)
-- runs from clock_timestamp(), read when the row is written, after any wait for locks
-- (a claim of limited tasks waits for the keys' advisory locks, a renewal for a row
-- another transaction holds): a lease computed from before such a wait would be partly
-- spent when it commits. Fences compare with now(), which can only be earlier: lenient
-- for the holder, and safe because the owner column is what fences.
-- Batches travel as one jsonb parameter holding one positional array per row,
-- unpacked with jsonb_array_elements: one round trip per batch, and orjson plus
-- PostgreSQL's jsonb parser cost a fraction of adapting Python lists into array
-- parameters (or of json_to_recordset).
-- Claims, renewals and recovery set synchronous_commit from %(commit)s ('off' when
-- fast claims are on): losing them in a database crash only means a task runs again.
-- Fencing ("this worker still holds this attempt") is written as owner = X AND
-- lease_expires_at >= now(), without state = 'running': a CHECK constraint makes an
-- owner imply running, and leaving the state out keeps the planner from walking the
-- partial lease index (whose statistics are always stale on a busy queue) instead of
-- the primary key.
-- Events are built in Python (coord.storage.rows.events): a statement inserts the
-- rows it is given (%(events)s, [topic, task_id, run_id, message_id, actor, data],
-- keeping those of the rows it wrote), or, where only the database knows a value,
-- binds one event as a template (%(event_topic)s, %(event_actor)s, %(event_data)s)
-- and fills in the row (and that value) itself.
-- {queue_filter} is replaced when loading by "queue = %(queue)s" (one queue: the
-- claim index is walked in order) or "queue = ANY(%(queues)s)" (several queues).

-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS coord_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: lock_migrations
SELECT pg_advisory_xact_lock(hashtextextended('coord:migrations', 0));

-- name: schema_version
SELECT coalesce(max(version), 0) FROM coord_migrations;

-- name: has_migrations_table
SELECT to_regclass('coord_migrations') IS NOT NULL;

-- name: has_tasks_table
SELECT to_regclass('coord_tasks') IS NOT NULL;

-- name: stamp_migration
INSERT INTO coord_migrations (version, name) VALUES (%(version)s, %(name)s);

-- name: enqueue
-- Inserts the batch and its events and wakes listening workers for tasks due now.
-- Rows whose (name, key) exists already are skipped and resolved by the caller.
-- Rows: [id, name, queue, priority, payload, key, delay, run_at (epoch or null),
-- max_attempts, retry_backoff, retry_backoff_max, timeout, heartbeat, stall_after,
-- concurrency_key, concurrency_limit, rate_key]; events: the task.enqueued of each.
WITH input AS (
    SELECT (e->>0)::uuid AS id, e->>1 AS name, e->>2 AS queue, (e->>3)::smallint AS priority,
           e->4 AS payload, e->>5 AS idempotency_key, (e->>6)::float8 AS delay,
           (e->>7)::float8 AS run_at, (e->>8)::int AS max_attempts,
           (e->>9)::float8 AS retry_backoff, (e->>10)::float8 AS retry_backoff_max,
           (e->>11)::float8 AS timeout_s, (e->>12)::float8 AS heartbeat_s,
           (e->>13)::int AS stall_after, e->>14 AS concurrency_key,
           (e->>15)::int AS concurrency_limit, e->>16 AS rate_key
    FROM jsonb_array_elements(%(rows)s::jsonb) AS e
), inserted AS (
    INSERT INTO coord_tasks (
        id, name, queue, priority, payload, idempotency_key, run_at, max_attempts,
        retry_backoff, retry_backoff_max, timeout_s, heartbeat_s, stall_after,
        concurrency_key, concurrency_limit, rate_key)
    SELECT id, name, queue, priority, payload, idempotency_key,
           coalesce(to_timestamp(run_at), now() + make_interval(secs => delay)),
           max_attempts, retry_backoff, retry_backoff_max, timeout_s, heartbeat_s,
           stall_after, concurrency_key, concurrency_limit, rate_key
    FROM input
    ON CONFLICT (name, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, queue, run_at
), enqueued AS (
    INSERT INTO coord_events (topic, task_id, actor, data)
    SELECT e->>0, (e->>1)::uuid, e->>4, nullif(e->5, 'null')
    FROM jsonb_array_elements(%(events)s::jsonb) AS e
    WHERE (e->>1)::uuid IN (SELECT id FROM inserted)
), wake AS (
    SELECT pg_notify('coord_due', queue)
    FROM (SELECT DISTINCT queue FROM inserted WHERE run_at <= now()) AS due
)
SELECT inserted.id FROM inserted, (SELECT count(*) FROM wake) AS woken;

-- name: find_by_keys
SELECT id, name, idempotency_key, payload FROM coord_tasks
WHERE idempotency_key IS NOT NULL
  AND (name, idempotency_key) IN (SELECT * FROM unnest(%(names)s::text[], %(keys)s::text[]));

-- name: claim
-- Locks up to %(limit)s due candidates; claims at once those without limits, and
-- returns the limited ones (still locked by this transaction) for admission.
WITH commit_mode AS MATERIALIZED (
    SELECT set_config('synchronous_commit', coalesce(%(commit)s::text, current_setting('synchronous_commit')), true)
), candidates AS (
    SELECT id, concurrency_key, concurrency_limit, rate_key
    FROM coord_tasks AS t
    WHERE state IN ('pending', 'failed') AND {queue_filter} AND run_at <= now()
      AND (concurrency_key IS NULL OR concurrency_limit > (
          SELECT count(*) FROM coord_tasks AS r
          WHERE r.state = 'running' AND r.concurrency_key = t.concurrency_key))
    ORDER BY priority DESC, run_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE coord_tasks AS t
    SET state = 'running', owner = %(owner)s, attempt = t.attempt + 1,
        lease_expires_at = clock_timestamp() + make_interval(secs => %(lease)s),
        started_at = clock_timestamp(), heartbeat_at = clock_timestamp()
    FROM candidates AS c
    WHERE t.id = c.id AND c.concurrency_key IS NULL AND c.rate_key IS NULL
    RETURNING t.id, t.name, t.queue, t.payload, t.attempt, t.max_attempts, t.retry_backoff,
              t.retry_backoff_max, t.timeout_s, t.heartbeat_s, t.stall_after, t.checkpoint,
              t.priority, t.error, t.run_id, t.phase, t.run_step, t.run_input
), started AS (
    -- task.started, its attempt filled in (rows.events.task_started with attempt 0).
    INSERT INTO coord_events (topic, task_id, actor, data)
    SELECT %(event_topic)s, id, %(event_actor)s,
           jsonb_set(%(event_data)s::jsonb, '{attempt}', to_jsonb(attempt))
    FROM claimed
)
SELECT id, name, queue, payload, attempt, max_attempts, retry_backoff, retry_backoff_max,
       timeout_s, heartbeat_s, stall_after, checkpoint, priority, error, run_id, phase,
       run_step, run_input,
       NULL::text AS concurrency_key, NULL::int AS concurrency_limit, NULL::text AS rate_key
FROM claimed, commit_mode
UNION ALL
SELECT id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, concurrency_key, concurrency_limit, rate_key
FROM candidates WHERE concurrency_key IS NOT NULL OR rate_key IS NOT NULL;

-- name: lock_keys
-- Serializes claims of the same concurrency keys until commit (keys come sorted).
SELECT count(pg_advisory_xact_lock(hashtextextended('coord:key:' || k, 0)))
FROM unnest(%(keys)s::text[]) AS k;

-- name: running_per_key
SELECT concurrency_key, count(*) FROM coord_tasks
WHERE state = 'running' AND concurrency_key = ANY(%(keys)s::text[])
GROUP BY concurrency_key;

-- name: lock_buckets
SELECT key, least(capacity, tokens + per_second * greatest(0, extract(epoch FROM now() - updated_at)))
FROM coord_rate_buckets WHERE key = ANY(%(keys)s::text[])
ORDER BY key FOR UPDATE;

-- name: take_tokens
UPDATE coord_rate_buckets AS b
SET tokens = least(b.capacity, b.tokens + b.per_second
                   * greatest(0, extract(epoch FROM now() - b.updated_at))) - t.taken,
    updated_at = now()
FROM unnest(%(keys)s::text[], %(taken)s::int[]) AS t(key, taken)
WHERE b.key = t.key;

-- name: lock_candidates
-- The limited candidates of a claim again, for admission (some may be gone by now).
SELECT id, concurrency_key, concurrency_limit, rate_key FROM coord_tasks
WHERE id = ANY(%(ids)s::uuid[]) AND state IN ('pending', 'failed') AND run_at <= now()
ORDER BY priority DESC, run_at, id
FOR UPDATE SKIP LOCKED;

-- name: claim_ids
WITH commit_mode AS MATERIALIZED (
    SELECT set_config('synchronous_commit', coalesce(%(commit)s::text, current_setting('synchronous_commit')), true)
), claimed AS (
    UPDATE coord_tasks AS t
    SET state = 'running', owner = %(owner)s, attempt = t.attempt + 1,
        lease_expires_at = clock_timestamp() + make_interval(secs => %(lease)s),
        started_at = clock_timestamp(), heartbeat_at = clock_timestamp()
    WHERE t.id = ANY(%(ids)s::uuid[]) AND t.state IN ('pending', 'failed')
    RETURNING t.id, t.name, t.queue, t.payload, t.attempt, t.max_attempts, t.retry_backoff,
              t.retry_backoff_max, t.timeout_s, t.heartbeat_s, t.stall_after, t.checkpoint,
              t.priority, t.error, t.run_id, t.phase, t.run_step, t.run_input
), started AS (
    -- task.started, its attempt filled in (rows.events.task_started with attempt 0).
    INSERT INTO coord_events (topic, task_id, actor, data)
    SELECT %(event_topic)s, id, %(event_actor)s,
           jsonb_set(%(event_data)s::jsonb, '{attempt}', to_jsonb(attempt))
    FROM claimed
)
SELECT claimed.* FROM claimed, commit_mode;

-- name: seconds_until_due
SELECT extract(epoch FROM min(run_at) - now())::float8 FROM coord_tasks
WHERE state IN ('pending', 'failed') AND queue = ANY(%(queues)s::text[]);

-- name: renew
-- Extends the leases still held and records heartbeats and usage; returns the run and
-- phase of each renewed task, which its progress event names (inserted by the caller).
WITH commit_mode AS MATERIALIZED (
    SELECT set_config('synchronous_commit', coalesce(%(commit)s::text, current_setting('synchronous_commit')), true)
), r AS (
    -- Rows: [id, attempt, beat, progress, message, tokens_in, tokens_out, usd_micros,
    -- tool_seconds].
    SELECT (e->>0)::uuid AS id, (e->>1)::int AS attempt, (e->>2)::bool AS beat,
           (e->>3)::float8 AS progress, e->>4 AS message, (e->>5)::bigint AS tokens_in,
           (e->>6)::bigint AS tokens_out, (e->>7)::bigint AS usd_micros,
           (e->>8)::float8 AS tool_seconds
    FROM jsonb_array_elements(%(rows)s::jsonb) AS e
), held AS MATERIALIZED (
    -- The rows are locked first: an UPDATE computes its new row before it waits for a
    -- lock another transaction holds, so clock_timestamp() in its SET would be read
    -- before the wait. Joined to this, each new lease is computed once its row is ours.
    SELECT t.id FROM coord_tasks AS t JOIN r ON t.id = r.id
    WHERE t.attempt = r.attempt AND t.owner = %(owner)s
    ORDER BY t.id
    FOR UPDATE OF t
), renewed AS (
    UPDATE coord_tasks AS t
    SET lease_expires_at = clock_timestamp() + make_interval(secs => %(lease)s),
        heartbeat_at = CASE WHEN r.beat THEN clock_timestamp() ELSE t.heartbeat_at END,
        progress = coalesce(r.progress, t.progress),
        progress_message = coalesce(r.message, t.progress_message),
        tokens_in = t.tokens_in + r.tokens_in, tokens_out = t.tokens_out + r.tokens_out,
        usd_micros = t.usd_micros + r.usd_micros, tool_seconds = t.tool_seconds + r.tool_seconds
    FROM r, held, commit_mode
    WHERE t.id = r.id AND t.id = held.id AND t.attempt = r.attempt AND t.owner = %(owner)s
      AND t.lease_expires_at >= now()
    RETURNING t.id, t.run_id, t.phase
)
SELECT id, run_id, phase FROM renewed;

-- name: fenced_outcomes
-- A fragment, not a query: the CTEs o (the outcome rows, as in complete), done
-- (the fenced UPDATE, RETURNING what the events need) and wake (workers for retries
-- due now, result waiters for finished tasks; a caller must read it), shared by
-- complete and by the runs' complete_and_snapshot, which adds its own condition
-- in place of also_fenced_by (TRUE for complete).
o AS (
    SELECT (e->>0)::uuid AS id, (e->>1)::int AS attempt, e->>2 AS state,
           nullif(e->3, 'null') AS result, nullif(e->4, 'null') AS error, (e->>5)::float8 AS delay,
           (e->>6)::int AS extra_attempts, e->>7 AS topic, nullif(e->8, 'null') AS event_data,
           (e->>9)::bigint AS tokens_in, (e->>10)::bigint AS tokens_out,
           (e->>11)::bigint AS usd_micros, (e->>12)::float8 AS tool_seconds
    FROM jsonb_array_elements(%(rows)s::jsonb) AS e
), done AS (
    UPDATE coord_tasks AS t
    SET state = o.state,
        result = coalesce(o.result, t.result),
        error = coalesce(o.error, t.error),
        run_at = CASE WHEN o.state IN ('pending', 'failed')
                      THEN now() + make_interval(secs => o.delay) ELSE t.run_at END,
        finished_at = CASE WHEN o.state IN ('succeeded', 'dead') THEN now() END,
        owner = NULL, lease_expires_at = NULL,
        max_attempts = t.max_attempts + o.extra_attempts,
        tokens_in = t.tokens_in + o.tokens_in, tokens_out = t.tokens_out + o.tokens_out,
        usd_micros = t.usd_micros + o.usd_micros, tool_seconds = t.tool_seconds + o.tool_seconds
    FROM o
    WHERE t.id = o.id AND t.attempt = o.attempt AND t.owner = %(owner)s
      AND t.lease_expires_at >= now() AND {also_fenced_by}
    RETURNING t.id, t.queue, o.state, o.delay, o.topic, o.event_data
), wake AS (
    SELECT pg_notify('coord_due', queue)
    FROM (SELECT DISTINCT queue FROM done WHERE state = 'pending' AND delay <= 0) AS due
    UNION ALL
    SELECT pg_notify('coord_done', '')
    WHERE EXISTS (SELECT 1 FROM done WHERE state IN ('succeeded', 'dead'))
)

-- name: complete
-- Records the outcomes still fenced by (id, attempt, owner, live lease), writes their
-- events, wakes workers for retries due now and result waiters for finished tasks.
-- Rows: [id, attempt, state, result, error, delay, extra_attempts, topic, event_data,
-- tokens_in, tokens_out, usd_micros, tool_seconds] (a JSON null error or event: none).
WITH {fenced_outcomes}, recorded AS (
    INSERT INTO coord_events (topic, task_id, actor, data)
    SELECT topic, id, %(owner)s, event_data FROM done
)
SELECT done.id FROM done, (SELECT count(*) FROM wake) AS woken;

-- name: save_checkpoint
WITH saved AS (
    UPDATE coord_tasks SET checkpoint = %(data)s::jsonb
    WHERE id = %(id)s AND attempt = %(attempt)s AND owner = %(owner)s
      AND lease_expires_at >= now()
    RETURNING id
), recorded AS (
    INSERT INTO coord_events (topic, task_id, actor, data)
    SELECT e->>0, (e->>1)::uuid, e->>4, nullif(e->5, 'null')
    FROM jsonb_array_elements(%(events)s::jsonb) AS e WHERE EXISTS (SELECT 1 FROM saved)
)
SELECT count(*) FROM saved;

-- name: load_steps
SELECT name, result::text FROM coord_steps WHERE task_id = %(task_id)s;

-- name: record_step
INSERT INTO coord_steps (task_id, name, attempt, result)
SELECT %(id)s, %(name)s, %(attempt)s, %(result)s::jsonb
WHERE EXISTS (
    SELECT 1 FROM coord_tasks
    WHERE id = %(id)s AND attempt = %(attempt)s AND owner = %(owner)s
      AND lease_expires_at >= now())
ON CONFLICT (task_id, name) DO UPDATE SET
    attempt = excluded.attempt, result = excluded.result, created_at = excluded.created_at;

-- name: recover_expired
-- Running tasks whose lease expired go back to pending (or dead when that was their
-- last attempt), with a task.lease_expired event (and task.dead), and wake workers.
-- The events are templates (rows.events.recovery_events of a dead task: lease_expired,
-- then dead) whose attempt, owner and next state the statement fills in, so a sweep
-- that finds nothing stays one autocommitted statement.
-- run_at is kept: a recovered task keeps its place in claim order (it was due when it
-- was claimed), instead of queueing behind everything enqueued since.
WITH commit_mode AS MATERIALIZED (
    SELECT set_config('synchronous_commit', coalesce(%(commit)s::text, current_setting('synchronous_commit')), true)
), expired AS (
    SELECT id FROM coord_tasks
    WHERE state = 'running' AND lease_expires_at < now()
    FOR UPDATE SKIP LOCKED
), recovered AS (
    UPDATE coord_tasks AS t
    SET state = CASE WHEN t.attempt >= t.max_attempts THEN 'dead' ELSE 'pending' END,
        owner = NULL, lease_expires_at = NULL,
        finished_at = CASE WHEN t.attempt >= t.max_attempts THEN now() END,
        error = jsonb_build_object(
            'type', 'LeaseExpired', 'owner', t.owner,
            'message', 'the worker running attempt ' || t.attempt || ' stopped renewing its lease')
    FROM expired, commit_mode WHERE t.id = expired.id
    RETURNING t.id, t.state, t.attempt, t.error ->> 'owner' AS previous_owner, t.queue
), recorded AS (
    INSERT INTO coord_events (topic, task_id, actor, data)
    SELECT x.e->>0, r.id, x.e->>4,
           jsonb_set(jsonb_set(jsonb_set(x.e->5, '{attempt}', to_jsonb(r.attempt)),
                               '{owner}', coalesce(to_jsonb(r.previous_owner), 'null')),
                     '{next}', to_jsonb(r.state))
    FROM recovered AS r, jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS x(e, n)
    WHERE x.n = 1 OR r.state = 'dead'
    ORDER BY r.id, x.n
), wake AS (
    SELECT pg_notify('coord_due', queue) FROM (SELECT DISTINCT queue FROM recovered) AS q
)
SELECT id, state FROM recovered, (SELECT count(*) FROM wake) AS woken;

-- name: get_task
SELECT {task_columns} FROM coord_tasks WHERE id = %(id)s;

-- name: list_tasks
SELECT {task_columns} FROM coord_tasks
WHERE (%(state)s::text IS NULL OR state = %(state)s::text)
  AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
  AND (%(name)s::text IS NULL OR name = %(name)s::text)
  AND (%(before)s::uuid IS NULL OR id < %(before)s::uuid)
ORDER BY id DESC LIMIT %(limit)s;

-- name: task_events
SELECT id, topic, task_id, actor, data, created_at FROM coord_events
WHERE task_id = %(id)s ORDER BY id;

-- name: cancel
WITH cancelled AS (
    UPDATE coord_tasks
    SET state = 'cancelled', finished_at = now(), owner = NULL, lease_expires_at = NULL
    WHERE id = %(id)s AND state IN ('pending', 'failed', 'running')
    RETURNING id
), recorded AS (
    INSERT INTO coord_events (topic, task_id, actor, data)
    SELECT %(event_topic)s, id, %(event_actor)s, %(event_data)s::jsonb FROM cancelled
), wake AS (
    SELECT pg_notify('coord_done', '') FROM cancelled
)
SELECT count(*) FROM cancelled, (SELECT count(*) FROM wake) AS woken;

-- name: counts_per_queue
SELECT queue, state, count(*) FROM coord_tasks GROUP BY queue, state;

-- name: oldest_due_per_queue
SELECT queue, extract(epoch FROM now() - min(run_at))::float8 FROM coord_tasks
WHERE state IN ('pending', 'failed') AND run_at <= now() GROUP BY queue;

-- name: dead_letter_groups
SELECT error ->> 'type' AS error_type, error ->> 'message' AS error_message,
       count(*) AS count, min(finished_at) AS first_seen, max(finished_at) AS last_seen,
       min(id::text) AS sample_task_id, array_agg(DISTINCT name) AS task_names
FROM coord_tasks WHERE state = 'dead'
GROUP BY 1, 2 ORDER BY count DESC, last_seen DESC;

-- name: retry_tasks
-- A retried task gets as many attempts again as its policy allows (1 + retries); a
-- reset of its steps clears its checkpoint too. Workers hear of it at commit.
WITH retried AS (
    UPDATE coord_tasks AS t
    SET state = 'pending', run_at = now(), finished_at = NULL,
        checkpoint = CASE WHEN %(reset)s THEN NULL ELSE t.checkpoint END,
        max_attempts = t.attempt + 1 + coalesce((
            SELECT (p.policy ->> 'retries')::int FROM coord_task_policies AS p
            WHERE p.name = t.name), 0)
    WHERE t.state = ANY(%(states)s::text[]) AND (%(all)s OR t.id = ANY(%(ids)s::uuid[]))
    RETURNING t.id, t.queue
), wake AS (
    SELECT pg_notify('coord_due', queue) FROM (SELECT DISTINCT queue FROM retried) AS q
)
SELECT id FROM retried, (SELECT count(*) FROM wake) AS woken;

-- name: steps_of_tasks
SELECT task_id, name FROM coord_steps WHERE task_id = ANY(%(ids)s::uuid[]);

-- name: delete_steps
DELETE FROM coord_steps AS s
USING unnest(%(task_ids)s::uuid[], %(names)s::text[]) AS d (task_id, name)
WHERE s.task_id = d.task_id AND s.name = d.name;

-- name: insert_events
-- Events built by coord.storage.rows.events, in the order given.
INSERT INTO coord_events (topic, task_id, run_id, message_id, actor, data)
SELECT e->>0, (e->>1)::uuid, (e->>2)::uuid, (e->>3)::uuid, e->>4, nullif(e->5, 'null')
FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS x(e, n)
ORDER BY n;

-- name: upsert_policy
INSERT INTO coord_task_policies (name, policy) VALUES (%(name)s, %(policy)s::jsonb)
ON CONFLICT (name) DO UPDATE SET policy = excluded.policy, updated_at = now()
WHERE coord_task_policies.policy IS DISTINCT FROM excluded.policy;

-- name: registered_tasks
SELECT name FROM coord_task_policies WHERE name = ANY(%(names)s::text[]);

-- name: get_policy
SELECT policy FROM coord_task_policies WHERE name = %(name)s;

-- name: upsert_bucket
INSERT INTO coord_rate_buckets (key, capacity, per_second, tokens)
VALUES (%(key)s, %(capacity)s, %(per_second)s, %(capacity)s)
ON CONFLICT (key) DO UPDATE SET capacity = excluded.capacity, per_second = excluded.per_second,
    tokens = least(coord_rate_buckets.tokens, excluded.capacity)
WHERE coord_rate_buckets.capacity <> excluded.capacity
   OR coord_rate_buckets.per_second <> excluded.per_second;
