-- Named queries for the SQLite store. Placeholders are :name. Times are epoch seconds
-- passed in as :now (one writer per file, so the process clock is the clock), read
-- once the transaction holds the write lock. Fences compare a lease with :asked, the
-- time the holder asked for the write (see SqliteConnection._fenced_tx).
-- Lists travel as one JSON text parameter unpacked with json_each. {queue_filter} is
-- replaced when loading by "queue = :queue" (one queue: the claim index is walked in
-- order) or "queue IN (SELECT value FROM json_each(:queues))".

-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS coord_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at REAL NOT NULL
);

-- name: schema_version
SELECT coalesce(max(version), 0) FROM coord_migrations;

-- name: has_tasks_table
SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'coord_tasks';

-- name: stamp_migration
INSERT INTO coord_migrations (version, name, applied_at) VALUES (:version, :name, :now);

-- name: insert_task
INSERT INTO coord_tasks (
    id, name, queue, state, priority, payload, idempotency_key, run_at, created_at,
    max_attempts, retry_backoff, retry_backoff_max, timeout_s, heartbeat_s, stall_after,
    concurrency_key, concurrency_limit, rate_key, run_id, phase, run_step, run_input)
VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (name, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;

-- name: find_by_keys
-- The tasks holding some (name, key) pairs, given as [[name, key], ...].
SELECT id, name, idempotency_key, payload FROM coord_tasks
WHERE idempotency_key IS NOT NULL
  AND (name, idempotency_key) IN (
      SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(:pairs));

-- name: insert_event
-- One event built by coord.storage.rows.events, with its time.
INSERT INTO coord_events (topic, task_id, run_id, message_id, actor, data, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: insert_task_event
-- An event of a task alone (no run, no message): see SqliteConnection._insert_events.
INSERT INTO coord_events (topic, task_id, actor, data, created_at) VALUES (?, ?, ?, ?, ?);

-- name: insert_message_event
-- An event of a message alone (no task, no run): see SqliteConnection._insert_events.
INSERT INTO coord_events (topic, message_id, actor, data, created_at) VALUES (?, ?, ?, ?, ?);

-- name: claim_candidates
SELECT id, concurrency_key, concurrency_limit, rate_key FROM coord_tasks AS t
WHERE state IN ('pending', 'failed') AND {queue_filter} AND run_at <= :now
  AND (concurrency_key IS NULL OR concurrency_limit > (
      SELECT count(*) FROM coord_tasks AS r
      WHERE r.state = 'running' AND r.concurrency_key = t.concurrency_key))
ORDER BY priority DESC, run_at, id
LIMIT :limit;

-- name: running_per_key
SELECT concurrency_key, count(*) FROM coord_tasks
WHERE state = 'running' AND concurrency_key IN (SELECT value FROM json_each(:keys))
GROUP BY concurrency_key;

-- name: bucket_tokens
SELECT key, min(capacity, tokens + per_second * max(0, :now - updated_at))
FROM coord_rate_buckets WHERE key IN (SELECT value FROM json_each(:keys));

-- name: take_tokens
UPDATE coord_rate_buckets
SET tokens = min(capacity, tokens + per_second * max(0, :now - updated_at)) - :taken,
    updated_at = :now
WHERE key = :key;

-- name: claim_rows
UPDATE coord_tasks
SET state = 'running', owner = :owner, attempt = attempt + 1,
    lease_expires_at = :now + :lease, started_at = :now, heartbeat_at = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND state IN ('pending', 'failed')
RETURNING id, name, queue, payload, attempt, max_attempts, retry_backoff, retry_backoff_max,
          timeout_s, heartbeat_s, stall_after, checkpoint, error, run_id, phase, run_step,
          run_input;

-- name: next_run_at
SELECT min(run_at) FROM coord_tasks
WHERE state IN ('pending', 'failed') AND queue IN (SELECT value FROM json_each(:queues));

-- name: renew
UPDATE coord_tasks
SET lease_expires_at = :now + :lease,
    heartbeat_at = CASE WHEN :beat THEN :now ELSE heartbeat_at END,
    progress = coalesce(:progress, progress),
    progress_message = coalesce(:message, progress_message),
    tokens_in = tokens_in + :tokens_in, tokens_out = tokens_out + :tokens_out,
    usd_micros = usd_micros + :usd_micros, tool_seconds = tool_seconds + :tool_seconds
WHERE id = :id AND attempt = :attempt AND owner = :owner AND state = 'running'
  AND lease_expires_at >= :asked
RETURNING id, run_id, phase;

-- name: complete
-- Outcomes arrive as [[id, attempt, state, result, error, delay, extra_attempts,
-- tokens_in, tokens_out, usd_micros, tool_seconds], ...]; result and error are JSON text.
UPDATE coord_tasks AS t
SET state = o.state,
    result = coalesce(o.result, t.result),
    error = coalesce(o.error, t.error),
    run_at = CASE WHEN o.state IN ('pending', 'failed') THEN :now + o.delay ELSE t.run_at END,
    finished_at = CASE WHEN o.state IN ('succeeded', 'dead') THEN :now END,
    owner = NULL, lease_expires_at = NULL,
    max_attempts = t.max_attempts + o.extra_attempts,
    tokens_in = t.tokens_in + o.tokens_in, tokens_out = t.tokens_out + o.tokens_out,
    usd_micros = t.usd_micros + o.usd_micros, tool_seconds = t.tool_seconds + o.tool_seconds
FROM (
    SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS attempt,
           json_extract(value, '$[2]') AS state, json_extract(value, '$[3]') AS result,
           json_extract(value, '$[4]') AS error, json_extract(value, '$[5]') AS delay,
           json_extract(value, '$[6]') AS extra_attempts,
           json_extract(value, '$[7]') AS tokens_in, json_extract(value, '$[8]') AS tokens_out,
           json_extract(value, '$[9]') AS usd_micros, json_extract(value, '$[10]') AS tool_seconds
    FROM json_each(:outcomes)
) AS o
WHERE t.id = o.id AND t.attempt = o.attempt AND t.owner = :owner AND t.state = 'running'
  AND t.lease_expires_at >= :asked
RETURNING id;

-- name: save_checkpoint
UPDATE coord_tasks SET checkpoint = :data
WHERE id = :id AND attempt = :attempt AND owner = :owner AND state = 'running'
  AND lease_expires_at >= :asked;

-- name: load_steps
SELECT name, result FROM coord_steps WHERE task_id = :task_id;

-- name: record_step
INSERT INTO coord_steps (task_id, name, attempt, result, created_at)
SELECT :id, :name, :attempt, :result, :now
WHERE EXISTS (
    SELECT 1 FROM coord_tasks
    WHERE id = :id AND attempt = :attempt AND owner = :owner AND state = 'running'
      AND lease_expires_at >= :asked)
ON CONFLICT (task_id, name) DO UPDATE SET
    attempt = excluded.attempt, result = excluded.result, created_at = excluded.created_at;

-- name: recover_expired
-- run_at is kept: a recovered task keeps its place in claim order (it was due when it
-- was claimed), instead of queueing behind everything enqueued since.
UPDATE coord_tasks
SET state = CASE WHEN attempt >= max_attempts THEN 'dead' ELSE 'pending' END,
    owner = NULL, lease_expires_at = NULL,
    finished_at = CASE WHEN attempt >= max_attempts THEN :now END,
    error = json_object('type', 'LeaseExpired', 'message',
                        'the worker running attempt ' || attempt || ' stopped renewing its lease',
                        'owner', owner)
WHERE state = 'running' AND lease_expires_at < :now
RETURNING id, state, attempt, json_extract(error, '$.owner');

-- name: get_task
SELECT {task_columns} FROM coord_tasks WHERE id = :id;

-- name: list_tasks
SELECT {task_columns} FROM coord_tasks
WHERE (:state IS NULL OR state = :state) AND (:queue IS NULL OR queue = :queue)
  AND (:name IS NULL OR name = :name) AND (:before IS NULL OR id < :before)
ORDER BY id DESC LIMIT :limit;

-- name: task_events
SELECT id, topic, task_id, actor, data, created_at FROM coord_events
WHERE task_id = :id ORDER BY id;

-- name: cancel
UPDATE coord_tasks
SET state = 'cancelled', finished_at = :now, owner = NULL, lease_expires_at = NULL
WHERE id = :id AND state IN ('pending', 'failed', 'running')
RETURNING id;

-- name: counts_per_queue
SELECT queue, state, count(*) FROM coord_tasks GROUP BY queue, state;

-- name: oldest_due_per_queue
SELECT queue, :now - min(run_at) FROM coord_tasks
WHERE state IN ('pending', 'failed') AND run_at <= :now GROUP BY queue;

-- name: dead_letter_groups
SELECT json_extract(error, '$.type') AS error_type,
       json_extract(error, '$.message') AS error_message,
       count(*) AS count, min(finished_at) AS first_seen, max(finished_at) AS last_seen,
       min(id) AS sample_task_id, group_concat(DISTINCT name) AS task_names
FROM coord_tasks WHERE state = 'dead'
GROUP BY 1, 2 ORDER BY count DESC, last_seen DESC;

-- name: retry_tasks
-- A retried task gets as many attempts again as its policy allows (1 + retries); a
-- reset of its steps clears its checkpoint too.
UPDATE coord_tasks
SET state = 'pending', run_at = :now, finished_at = NULL,
    checkpoint = CASE WHEN :reset THEN NULL ELSE checkpoint END,
    max_attempts = attempt + 1 + coalesce((
        SELECT json_extract(p.policy, '$.retries') FROM coord_task_policies AS p
        WHERE p.name = coord_tasks.name), 0)
WHERE state IN (SELECT value FROM json_each(:states))
  AND (:all OR id IN (SELECT value FROM json_each(:ids)))
RETURNING id, queue;

-- name: steps_of_tasks
SELECT task_id, name FROM coord_steps WHERE task_id IN (SELECT value FROM json_each(:ids));

-- name: delete_step
DELETE FROM coord_steps WHERE task_id = ? AND name = ?;

-- name: upsert_policy
INSERT INTO coord_task_policies (name, policy, updated_at) VALUES (:name, :policy, :now)
ON CONFLICT (name) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at
WHERE coord_task_policies.policy <> excluded.policy;

-- name: registered_tasks
SELECT name FROM coord_task_policies WHERE name IN (SELECT value FROM json_each(:names));

-- name: get_policy
SELECT policy FROM coord_task_policies WHERE name = :name;

-- name: upsert_bucket
INSERT INTO coord_rate_buckets (key, capacity, per_second, tokens, updated_at)
VALUES (:key, :capacity, :per_second, :capacity, :now)
ON CONFLICT (key) DO UPDATE SET capacity = excluded.capacity, per_second = excluded.per_second,
    tokens = min(coord_rate_buckets.tokens, excluded.capacity)
WHERE coord_rate_buckets.capacity <> excluded.capacity
   OR coord_rate_buckets.per_second <> excluded.per_second;
