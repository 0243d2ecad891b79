-- Named queries of SQLite workflow runs. Times are epoch seconds (:now is the
-- writer's clock); JSON is text; lists travel as JSON text unpacked with json_each.

-- name: upsert_workflow
INSERT INTO coord_workflows (name, definition, updated_at) VALUES (:name, :definition, :now)
ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at
WHERE coord_workflows.definition IS NOT excluded.definition;

-- name: list_workflows
SELECT name, definition, updated_at FROM coord_workflows ORDER BY name;

-- name: get_workflow
SELECT name, definition, updated_at FROM coord_workflows WHERE name = :name;

-- name: insert_run
INSERT INTO coord_runs (
    id, workflow, definition, input, state, budget, idempotency_key, actor, created_at,
    updated_at)
VALUES (:id, :workflow, :definition, :input, 'pending', :budget, :key, :actor, :now, :now)
ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;

-- name: run_by_key
SELECT id, workflow, input FROM coord_runs WHERE idempotency_key = :key;

-- name: insert_phase
INSERT INTO coord_phases (run_id, name, position, state, budget) VALUES (?, ?, ?, 'waiting', ?);

-- name: snapshot_run
SELECT id, workflow, definition, input, state, reason, detail, budget, idempotency_key,
       created_at, started_at, finished_at, actor, :now
FROM coord_runs WHERE id = :id;

-- name: snapshot_phases
SELECT name, state, attempt, loops, started_at, finished_at, deadline_at, result, gate,
       error, budget, items, waiver, approval, finished_seq
FROM coord_phases WHERE run_id = :id ORDER BY position;

-- name: snapshot_tasks
-- Without payloads, results or tracebacks: the engine needs states and usage.
SELECT id, phase, name, state, run_step, tokens_in, tokens_out, usd_micros, tool_seconds,
       CASE WHEN error IS NOT NULL
            THEN json_object('type', json_extract(error, '$.type'),
                             'message', json_extract(error, '$.message')) END
FROM coord_tasks WHERE run_id = :id ORDER BY id;

-- name: snapshot_artifacts
SELECT DISTINCT phase, phase_attempt, name FROM coord_run_artifacts WHERE run_id = :id;

-- name: policies_named
SELECT name, policy FROM coord_task_policies
WHERE name IN (SELECT value FROM json_each(:names));

-- name: task_results
SELECT id, result FROM coord_tasks
WHERE run_id = :run AND id IN (SELECT value FROM json_each(:ids));

-- name: update_run
UPDATE coord_runs
SET state = :state, reason = :reason, detail = :detail, budget = :budget,
    started_at = :started_at, finished_at = :finished_at, updated_at = :now
WHERE id = :id;

-- name: touch_run
UPDATE coord_runs SET updated_at = :now WHERE id = :id;

-- name: update_phase
UPDATE coord_phases
SET state = :state, attempt = :attempt, loops = :loops, started_at = :started_at,
    finished_at = :finished_at, deadline_at = :deadline_at, result = :result, gate = :gate,
    error = :error, budget = :budget, items = :items, waiver = :waiver, approval = :approval,
    finished_seq = :finished_seq
WHERE run_id = :run AND name = :name;

-- name: cancel_run_tasks
UPDATE coord_tasks
SET state = 'cancelled', finished_at = :now, owner = NULL, lease_expires_at = NULL
WHERE id IN (SELECT value FROM json_each(:ids)) AND state IN ('pending', 'failed', 'running')
RETURNING id;

-- name: runs_to_reconcile
SELECT r.id FROM coord_runs AS r
WHERE r.state IN ('running', 'compensating') AND r.updated_at < :before
  AND NOT EXISTS (SELECT 1 FROM coord_tasks AS t
                  WHERE t.run_id = r.id AND t.state IN ('pending', 'failed', 'running'))
  AND NOT EXISTS (SELECT 1 FROM coord_phases AS p
                  WHERE p.run_id = r.id AND p.state = 'awaiting_approval')
ORDER BY r.updated_at LIMIT 100;

-- name: get_run
SELECT {run_columns} FROM coord_runs WHERE id = :id;

-- name: list_runs
SELECT {run_columns} FROM coord_runs
WHERE (:state IS NULL OR state = :state) AND (:workflow IS NULL OR workflow = :workflow)
  AND (:before IS NULL OR id < :before)
ORDER BY id DESC LIMIT :limit;

-- name: run_phases
SELECT name, state, attempt, loops, started_at, finished_at, deadline_at, result, gate,
       error, budget, items, waiver, approval
FROM coord_phases WHERE run_id = :id ORDER BY position;

-- name: run_usage
SELECT phase, sum(tokens_in), sum(tokens_out), sum(usd_micros), sum(tool_seconds)
FROM coord_tasks WHERE run_id = :id GROUP BY phase;

-- name: runs_usage
SELECT run_id, sum(tokens_in), sum(tokens_out), sum(usd_micros), sum(tool_seconds)
FROM coord_tasks WHERE run_id IN (SELECT value FROM json_each(:ids)) GROUP BY run_id;

-- name: run_events
SELECT id, topic, task_id, actor, data, created_at, message_id, run_id FROM coord_events
WHERE id > :after
  AND (run_id = :id OR task_id IN (SELECT t.id FROM coord_tasks AS t WHERE t.run_id = :id))
ORDER BY id;

-- name: save_artifact_content
INSERT INTO coord_artifacts (digest, content, size, media_type, created_at)
VALUES (:digest, :content, :size, :media_type, :now)
ON CONFLICT (digest) DO NOTHING;

-- name: record_artifact
INSERT INTO coord_run_artifacts (
    run_id, phase, phase_attempt, name, digest, task_id, task_attempt, producer, tool,
    inputs, created_at)
SELECT :run, :phase, :phase_attempt, :name, :digest, :task, :task_attempt, :producer, :tool,
       :inputs, :now
WHERE EXISTS (
    SELECT 1 FROM coord_tasks
    WHERE id = :task AND attempt = :task_attempt AND owner = :owner AND state = 'running'
      AND lease_expires_at >= :asked);

-- name: run_artifacts
SELECT a.run_id, a.phase, a.name, a.digest, c.size, c.media_type, a.task_id, a.task_attempt,
       a.phase_attempt, a.producer, a.tool, a.inputs, a.created_at
FROM coord_run_artifacts AS a JOIN coord_artifacts AS c ON c.digest = a.digest
WHERE a.run_id = :id ORDER BY a.id;

-- name: artifact_content
SELECT content FROM coord_artifacts WHERE digest = :digest;
