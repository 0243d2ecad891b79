-- 0005: the ledger covers content. The events that record content carry its hash
-- (coord.domain.sealed_content): message.sent the hash of the message's subject and
-- body (given by the caller as content_sha256), the handler tasks' task.enqueued the
-- hash of their payload. Other events get theirs from the code that writes them.

CREATE OR REPLACE FUNCTION coord_send(batch jsonb) RETURNS jsonb
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
