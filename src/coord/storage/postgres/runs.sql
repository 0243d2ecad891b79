-- Named queries of PostgreSQL workflow runs. Times cross the boundary as epoch
-- seconds (the engine compares them with the database clock, read in the same
-- transaction); lists travel as JSON arrays of positional rows.

-- name: upsert_workflow
INSERT INTO coord_workflows (name, definition) VALUES (%(name)s, %(definition)s::jsonb)
ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = now()
WHERE coord_workflows.definition IS DISTINCT FROM excluded.definition;

-- name: list_workflows
SELECT name, definition, updated_at FROM coord_workflows ORDER BY name;

-- name: get_workflow
SELECT name, definition, updated_at FROM coord_workflows WHERE name = %(name)s;

-- name: insert_run
-- The run and its phases (rows: [name, position, budget]); nothing when the key
-- exists already (the caller then looks the run up by its key).
WITH run AS (
    INSERT INTO coord_runs (id, workflow, definition, input, state, budget, idempotency_key, actor)
    VALUES (%(id)s, %(workflow)s, %(definition)s::jsonb, %(input)s::jsonb, 'pending',
            %(budget)s::jsonb, %(key)s, %(actor)s)
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id
), phases AS (
    INSERT INTO coord_phases (run_id, name, position, state, budget)
    SELECT run.id, e->>0, (e->>1)::int, 'waiting', e->2
    FROM run, jsonb_array_elements(%(phases)s::jsonb) AS e
)
SELECT id FROM run;

-- name: run_by_key
SELECT id, workflow, input FROM coord_runs WHERE idempotency_key = %(key)s;

-- name: snapshot
-- The run as the engine reads it, in one row: its columns (times as epoch seconds),
-- then its phases, tasks (without payloads, results or tracebacks), artifact names
-- and the policies of every task its definition names, as JSON; the run's row locked
-- first, and whether the reads are fresh. A statement that waits for the lock still
-- reads as of its start (READ COMMITTED takes a statement's snapshot when it starts),
-- before the commit of the transaction it waited for: then the locked row's version
-- differs from the one read, `fresh` is false, and the caller reads again, holding
-- the lock. (Every transaction that changes a run's phases locks and updates its row.)
WITH locked AS MATERIALIZED (
    SELECT xmin AS version FROM coord_runs WHERE id = %(run)s FOR UPDATE
)
{snapshot_select}, r.xmin = (SELECT version FROM locked) AS fresh
FROM coord_runs AS r WHERE r.id = %(run)s AND EXISTS (SELECT 1 FROM locked);

-- name: complete_and_snapshot
-- A run task's outcome (fenced, as in complete) and the run's snapshot, in one
-- statement. The run's row is locked first: the fencing condition reads the locked
-- CTE, so the lock is taken before the task's row is. The snapshot sees the task as
-- it was before this statement (the caller applies the outcome to it), and `fresh`
-- says whether it is current, as in snapshot: when the lock had to be waited for,
-- the caller reads the run again.
WITH locked AS MATERIALIZED (
    SELECT xmin AS version FROM coord_runs WHERE id = %(run)s FOR UPDATE
), {fenced_outcomes}, recorded AS (
    INSERT INTO coord_events (topic, task_id, run_id, actor, data)
    SELECT topic, id, %(run)s, %(owner)s, event_data FROM done
)
{snapshot_select}, r.xmin = (SELECT version FROM locked) AS fresh,
       (SELECT count(*) FROM done) AS accepted
FROM coord_runs AS r, (SELECT count(*) FROM wake) AS woken
WHERE r.id = %(run)s;

-- name: task_results
SELECT id, result FROM coord_tasks WHERE run_id = %(run)s AND id = ANY(%(ids)s::uuid[]);

-- name: apply
-- Everything one engine decision writes, in one statement: the run's row, its
-- changed phases (rows: [name, state, attempt, loops, started_at, finished_at,
-- deadline_at, result, gate, error, budget, items, waiver, approval, finished_seq],
-- times as epoch), tasks to cancel, tasks to enqueue (rows: [id, name, queue,
-- priority, payload, key, run_at, max_attempts, retry_backoff, retry_backoff_max,
-- timeout, heartbeat, stall_after, concurrency_key, concurrency_limit, rate_key,
-- run_id, phase, run_step, run_input, eager]; an eager one is stored leased to
-- %(owner)s), and the events, built in Python (coord.storage.rows.events): the
-- decision's own (%(events)s), then the cancellation of each task cancelled (a
-- template the statement fills in), the task.enqueued of each task inserted
-- (%(enqueued)s) and the task.started of each eagerly claimed one (%(started)s); then
-- the wake-ups. Returns the eagerly claimed tasks (the columns of a claim).
WITH run_row AS (
    UPDATE coord_runs
    SET state = %(state)s, reason = %(reason)s, detail = %(detail)s::jsonb,
        budget = %(budget)s::jsonb, started_at = to_timestamp(%(started_at)s::float8),
        finished_at = to_timestamp(%(finished_at)s::float8), updated_at = now()
    WHERE id = %(run)s
), phase_rows AS (
    UPDATE coord_phases AS p
    SET state = e->>1, attempt = (e->>2)::int, loops = (e->>3)::int,
        started_at = to_timestamp((e->>4)::float8), finished_at = to_timestamp((e->>5)::float8),
        deadline_at = to_timestamp((e->>6)::float8), result = nullif(e->7, 'null'),
        gate = nullif(e->8, 'null'), error = nullif(e->9, 'null'), budget = e->10,
        items = nullif(e->11, 'null'), waiver = nullif(e->12, 'null'),
        approval = nullif(e->13, 'null'), finished_seq = (e->>14)::int
    FROM jsonb_array_elements(%(phases)s::jsonb) AS e
    WHERE p.run_id = %(run)s AND p.name = e->>0
), cancelled AS (
    UPDATE coord_tasks
    SET state = 'cancelled', finished_at = now(), owner = NULL, lease_expires_at = NULL
    WHERE id = ANY(%(cancel)s::uuid[]) AND state IN ('pending', 'failed', 'running')
    RETURNING id
), input AS (
    SELECT (e->>0)::uuid AS id, e->>1 AS name, e->>2 AS queue, (e->>3)::smallint AS priority,
           e->4 AS payload, e->>5 AS idempotency_key, (e->>6)::float8 AS run_at,
           (e->>7)::int AS max_attempts, (e->>8)::float8 AS retry_backoff,
           (e->>9)::float8 AS retry_backoff_max, (e->>10)::float8 AS timeout_s,
           (e->>11)::float8 AS heartbeat_s, (e->>12)::int AS stall_after,
           e->>13 AS concurrency_key, (e->>14)::int AS concurrency_limit, e->>15 AS rate_key,
           e->>17 AS phase, e->18 AS run_step, e->19 AS run_input, (e->>20)::bool AS eager
    FROM jsonb_array_elements(%(tasks)s::jsonb) AS e
), inserted AS (
    INSERT INTO coord_tasks (
        id, name, queue, state, priority, payload, idempotency_key, run_at, max_attempts,
        retry_backoff, retry_backoff_max, timeout_s, heartbeat_s, stall_after,
        concurrency_key, concurrency_limit, rate_key, run_id, phase, run_step, run_input,
        attempt, owner, lease_expires_at, started_at, heartbeat_at)
    SELECT id, name, queue, CASE WHEN eager THEN 'running' ELSE 'pending' END, priority,
           payload, idempotency_key, coalesce(to_timestamp(run_at), now()), max_attempts,
           retry_backoff, retry_backoff_max, timeout_s, heartbeat_s, stall_after,
           concurrency_key, concurrency_limit, rate_key, %(run)s, phase, run_step, run_input,
           CASE WHEN eager THEN 1 ELSE 0 END, CASE WHEN eager THEN %(owner)s::text END,
           CASE WHEN eager THEN clock_timestamp() + make_interval(secs => %(lease)s::float8) END,
           CASE WHEN eager THEN clock_timestamp() END, CASE WHEN eager THEN clock_timestamp() END
    FROM input
    ON CONFLICT (name, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, name, queue, payload, attempt, max_attempts, retry_backoff,
              retry_backoff_max, timeout_s, heartbeat_s, stall_after, checkpoint, priority,
              error, run_id, phase, run_step, run_input, run_at, state
), recorded AS (
    INSERT INTO coord_events (topic, run_id, task_id, actor, data)
    SELECT topic, %(run)s, task_id, actor, data FROM (
        SELECT 0 AS part, e.ordinality AS n, e.value->>0 AS topic, (e.value->>1)::uuid AS task_id,
               e.value->>4 AS actor, nullif(e.value->5, 'null') AS data
        FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS e
        UNION ALL
        SELECT 1, 0, %(event_topic)s, id, %(event_actor)s, %(event_data)s::jsonb FROM cancelled
        UNION ALL
        SELECT 2, 0, e->>0, (e->>1)::uuid, e->>4, nullif(e->5, 'null')
        FROM jsonb_array_elements(%(enqueued)s::jsonb) AS e
        WHERE (e->>1)::uuid IN (SELECT id FROM inserted)
        UNION ALL
        SELECT 3, 0, e->>0, (e->>1)::uuid, e->>4, nullif(e->5, 'null')
        FROM jsonb_array_elements(%(started)s::jsonb) AS e
        WHERE (e->>1)::uuid IN (SELECT id FROM inserted WHERE state = 'running')
    ) AS all_events
    ORDER BY part, n, task_id
), wake AS (
    SELECT pg_notify('coord_due', queue)
    FROM (SELECT DISTINCT queue FROM inserted WHERE state = 'pending' AND run_at <= now()) AS due
    UNION ALL
    SELECT pg_notify('coord_done', '') WHERE EXISTS (SELECT 1 FROM cancelled)
    UNION ALL
    SELECT pg_notify('coord_run', %(run)s::text)
)
SELECT i.id, i.name, i.queue, i.payload, i.attempt, i.max_attempts, i.retry_backoff,
       i.retry_backoff_max, i.timeout_s, i.heartbeat_s, i.stall_after, i.checkpoint,
       i.priority, i.error, i.run_id, i.phase, i.run_step, i.run_input
FROM (SELECT count(*) FROM wake) AS woken
LEFT JOIN inserted AS i ON i.state = 'running';

-- name: runs_to_reconcile
SELECT r.id FROM coord_runs AS r
WHERE r.state IN ('running', 'compensating')
  AND r.updated_at < now() - make_interval(secs => %(older_than)s)
  AND NOT EXISTS (SELECT 1 FROM coord_tasks AS t
                  WHERE t.run_id = r.id AND t.state IN ('pending', 'failed', 'running'))
  AND NOT EXISTS (SELECT 1 FROM coord_phases AS p
                  WHERE p.run_id = r.id AND p.state = 'awaiting_approval')
ORDER BY r.updated_at LIMIT 100;

-- name: get_run
SELECT {run_columns} FROM coord_runs WHERE id = %(id)s;

-- name: list_runs
SELECT {run_columns} FROM coord_runs
WHERE (%(state)s::text IS NULL OR state = %(state)s::text)
  AND (%(workflow)s::text IS NULL OR workflow = %(workflow)s::text)
  AND (%(before)s::uuid IS NULL OR id < %(before)s::uuid)
ORDER BY id DESC LIMIT %(limit)s;

-- name: run_phases
SELECT name, state, attempt, loops, started_at, finished_at, deadline_at, result, gate,
       error, budget, items, waiver, approval
FROM coord_phases WHERE run_id = %(id)s ORDER BY position;

-- name: run_usage
-- What the run's tasks charged, per phase.
SELECT phase, sum(tokens_in)::bigint, sum(tokens_out)::bigint, sum(usd_micros)::bigint,
       sum(tool_seconds)::float8
FROM coord_tasks WHERE run_id = %(id)s GROUP BY phase;

-- name: runs_usage
SELECT run_id, sum(tokens_in)::bigint, sum(tokens_out)::bigint, sum(usd_micros)::bigint,
       sum(tool_seconds)::float8
FROM coord_tasks WHERE run_id = ANY(%(ids)s::uuid[]) GROUP BY run_id;

-- name: run_events
-- The run's own events and those of its tasks, oldest first.
SELECT id, topic, task_id, actor, data, created_at, message_id, run_id FROM coord_events
WHERE id > %(after)s
  AND (run_id = %(id)s
       OR task_id IN (SELECT t.id FROM coord_tasks AS t WHERE t.run_id = %(id)s))
ORDER BY id;

-- name: save_artifact_content
INSERT INTO coord_artifacts (digest, content, size, media_type)
VALUES (%(digest)s, %(content)s, %(size)s, %(media_type)s)
ON CONFLICT (digest) DO NOTHING;

-- name: record_artifact
-- Fenced by the task's lease, like steps.
WITH recorded AS (
    INSERT INTO coord_run_artifacts (
        run_id, phase, phase_attempt, name, digest, task_id, task_attempt, producer, tool,
        inputs)
    SELECT %(run)s, %(phase)s, %(phase_attempt)s, %(name)s, %(digest)s, %(task)s,
           %(task_attempt)s, %(producer)s, %(tool)s, %(inputs)s::jsonb
    WHERE EXISTS (
        SELECT 1 FROM coord_tasks
        WHERE id = %(task)s AND attempt = %(task_attempt)s AND owner = %(owner)s
          AND lease_expires_at >= now())
    RETURNING id
), stored AS (
    INSERT INTO coord_events (topic, task_id, run_id, actor, data)
    SELECT e->>0, (e->>1)::uuid, (e->>2)::uuid, e->>4, nullif(e->5, 'null')
    FROM jsonb_array_elements(%(events)s::jsonb) AS e WHERE EXISTS (SELECT 1 FROM recorded)
)
SELECT count(*) FROM recorded;

-- name: run_artifacts
SELECT a.run_id, a.phase, a.name, a.digest, c.size, c.media_type, a.task_id, a.task_attempt,
       a.phase_attempt, a.producer, a.tool, a.inputs, a.created_at
FROM coord_run_artifacts AS a JOIN coord_artifacts AS c ON c.digest = a.digest
WHERE a.run_id = %(id)s ORDER BY a.id;

-- name: artifact_content
SELECT content FROM coord_artifacts WHERE digest = %(digest)s;
