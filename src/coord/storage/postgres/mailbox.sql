-- Named queries of the PostgreSQL mailbox (agents, topics, messages, deliveries).
-- Times come from the database clock; lists travel as arrays or JSON arrays.
-- Events are built in Python (coord.storage.rows.events); a statement that changes
-- deliveries binds one as a template (%(event_topic)s, %(event_actor)s,
-- %(event_data)s) and fills in the message of each delivery it changed.

-- name: add_agent
-- A removed agent comes back with its mailbox (and sequence) intact; a live one
-- is left alone and the caller reports the conflict.
INSERT INTO coord_agents (name, role, domains, description, human)
VALUES (%(name)s, %(role)s, %(domains)s::jsonb, %(description)s, %(human)s)
ON CONFLICT (name) DO UPDATE
SET role = excluded.role, domains = excluded.domains, description = excluded.description,
    human = excluded.human, created_at = now(), last_seen_at = NULL, removed_at = NULL
WHERE coord_agents.removed_at IS NOT NULL
RETURNING name;

-- name: list_agents
SELECT name, role, domains, description, human, created_at, last_seen_at FROM coord_agents
WHERE removed_at IS NULL AND (%(name)s::text IS NULL OR name = %(name)s) ORDER BY name;

-- name: agent_topics
SELECT s.agent, s.topic FROM coord_subscriptions AS s
WHERE %(name)s::text IS NULL OR s.agent = %(name)s ORDER BY s.agent, s.topic;

-- name: remove_agent
UPDATE coord_agents SET removed_at = now() WHERE name = %(name)s AND removed_at IS NULL
RETURNING name;

-- name: drop_subscriptions
DELETE FROM coord_subscriptions WHERE agent = %(name)s;

-- name: live_agents
SELECT name FROM coord_agents WHERE name = ANY(%(names)s::text[]) AND removed_at IS NULL;

-- name: subscribe
INSERT INTO coord_subscriptions (topic, agent) VALUES (%(topic)s, %(agent)s)
ON CONFLICT (topic, agent) DO NOTHING;

-- name: unsubscribe
DELETE FROM coord_subscriptions WHERE topic = %(topic)s AND agent = %(agent)s;

-- name: inbox
SELECT {inbox_columns}
FROM coord_deliveries AS d JOIN coord_messages AS m ON m.id = d.message_id
WHERE d.agent = %(agent)s AND d.seq > %(after)s AND d.state <> 'expired'
  AND (d.expires_at IS NULL OR d.expires_at > now())
  AND (NOT %(unread)s OR d.state = 'delivered')
  AND (%(thread)s::uuid IS NULL OR m.thread_id = %(thread)s::uuid)
  AND (%(sender)s::text IS NULL OR m.sender = %(sender)s)
  AND (%(address)s::text IS NULL OR m.address = %(address)s)
ORDER BY {inbox_order} LIMIT %(limit)s;

-- name: take
-- The first unread delivery, skipping ones another receiver is taking right now.
WITH first AS (
    SELECT d.agent, d.seq FROM coord_deliveries AS d
    JOIN coord_messages AS m ON m.id = d.message_id
    WHERE d.agent = %(agent)s AND d.state = 'delivered'
      AND (d.expires_at IS NULL OR d.expires_at > now())
      AND (%(address)s::text IS NULL OR m.address = %(address)s)
    ORDER BY {inbox_order} LIMIT 1
    FOR UPDATE OF d SKIP LOCKED
), taken AS (
    UPDATE coord_deliveries AS d SET state = 'read', read_at = now()
    FROM first WHERE d.agent = first.agent AND d.seq = first.seq
    RETURNING d.message_id
), event AS (
    INSERT INTO coord_events (topic, message_id, actor, data)
    SELECT %(event_topic)s, message_id, %(event_actor)s, %(event_data)s::jsonb
    FROM taken
), seen AS (
    UPDATE coord_agents SET last_seen_at = now()
    WHERE name = %(agent)s AND EXISTS (SELECT 1 FROM taken)
)
SELECT message_id FROM taken;

-- name: inbox_entry
SELECT {inbox_columns}
FROM coord_deliveries AS d JOIN coord_messages AS m ON m.id = d.message_id
WHERE d.agent = %(agent)s AND d.message_id = %(id)s::uuid;

-- name: mark_read
WITH changed AS (
    UPDATE coord_deliveries SET state = 'read', read_at = now()
    WHERE agent = %(agent)s AND message_id = %(id)s::uuid AND state = 'delivered'
      AND (expires_at IS NULL OR expires_at > now())
    RETURNING message_id
), event AS (
    INSERT INTO coord_events (topic, message_id, actor, data)
    SELECT %(event_topic)s, message_id, %(event_actor)s, %(event_data)s::jsonb
    FROM changed
), seen AS (
    UPDATE coord_agents SET last_seen_at = now()
    WHERE name = %(agent)s AND EXISTS (SELECT 1 FROM changed)
)
SELECT count(*) FROM changed;

-- name: held_messages
SELECT message_id FROM coord_deliveries
WHERE agent = %(agent)s AND message_id = ANY(%(ids)s::uuid[]);

-- name: ack
WITH acked AS (
    UPDATE coord_deliveries
    SET state = 'acked', acked_at = now(), read_at = coalesce(read_at, now())
    WHERE agent = %(agent)s AND message_id = ANY(%(ids)s::uuid[])
      AND state IN ('delivered', 'read')
      AND (expires_at IS NULL OR expires_at > now())
    RETURNING message_id
), event AS (
    INSERT INTO coord_events (topic, message_id, actor, data)
    SELECT %(event_topic)s, message_id, %(event_actor)s, %(event_data)s::jsonb
    FROM acked
), seen AS (
    UPDATE coord_agents SET last_seen_at = now()
    WHERE name = %(agent)s AND EXISTS (SELECT 1 FROM acked)
)
SELECT message_id FROM acked;

-- name: get_message
SELECT {message_columns} FROM coord_messages WHERE id = %(id)s::uuid;

-- name: thread_messages
SELECT {message_columns} FROM coord_messages WHERE thread_id = %(thread)s::uuid ORDER BY id;

-- name: readable_messages
-- Of the ids given, the messages the agent may read: it sent them, or one was delivered to it
-- (directly, through a topic or to all; in any state, expired too). The one rule of
-- who may see a message or name it in a reply (docs/mailboxes.md).
SELECT m.id FROM coord_messages AS m
WHERE m.id = ANY(%(ids)s::uuid[])
  AND (m.sender = %(agent)s OR EXISTS (
      SELECT 1 FROM coord_deliveries AS d WHERE d.message_id = m.id AND d.agent = %(agent)s));

-- name: readable_threads
-- Of the ids given, the threads the agent may read: those holding a message it may read.
SELECT DISTINCT m.thread_id FROM coord_messages AS m
WHERE m.thread_id = ANY(%(ids)s::uuid[])
  AND (m.sender = %(agent)s OR EXISTS (
      SELECT 1 FROM coord_deliveries AS d WHERE d.message_id = m.id AND d.agent = %(agent)s));

-- name: deliveries_of
SELECT {delivery_columns}
FROM coord_deliveries AS d WHERE message_id = ANY(%(ids)s::uuid[])
ORDER BY message_id, agent;

-- name: message_events
SELECT id, topic, task_id, message_id, actor, data, created_at FROM coord_events
WHERE message_id = %(id)s::uuid ORDER BY id;

-- name: expire
-- With a message.expired event per delivery (the template's agent filled in), in one
-- statement: inbox listings run this sweep first.
WITH expired AS (
    UPDATE coord_deliveries SET state = 'expired', expired_at = now()
    WHERE expires_at <= now() AND expires_at IS NOT NULL AND state IN ('delivered', 'read')
    RETURNING message_id, agent
), event AS (
    INSERT INTO coord_events (topic, message_id, actor, data)
    SELECT %(event_topic)s, message_id, %(event_actor)s,
           jsonb_set(%(event_data)s::jsonb, '{agent}', to_jsonb(agent))
    FROM expired
)
SELECT count(*) FROM expired;

-- name: mailbox_sequences
SELECT seq FROM coord_deliveries WHERE agent = %(agent)s ORDER BY seq;

-- name: open_deliveries
-- Deliveries an agent handler has still to see (to enqueue their handler tasks).
SELECT message_id, priority FROM coord_deliveries
WHERE agent = %(agent)s AND state IN ('delivered', 'read')
  AND (expires_at IS NULL OR expires_at > now())
ORDER BY seq;

-- name: send
SELECT coord_send(%(batch)s::jsonb);
