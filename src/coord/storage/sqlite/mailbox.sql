-- Named queries of the SQLite mailbox (agents, topics, messages, deliveries).
-- Times are epoch seconds bound as :now; lists travel as JSON arrays.

-- name: add_agent
-- A removed agent comes back with its mailbox (and sequence) intact; a live one
-- is left alone and the caller reports the conflict.
INSERT INTO coord_agents (name, role, domains, description, human, created_at)
VALUES (:name, :role, :domains, :description, :human, :now)
ON CONFLICT (name) DO UPDATE
SET role = excluded.role, domains = excluded.domains, description = excluded.description,
    human = excluded.human, created_at = excluded.created_at, last_seen_at = NULL,
    removed_at = NULL
WHERE coord_agents.removed_at IS NOT NULL
RETURNING name;

-- name: list_agents
SELECT name, role, domains, description, human, created_at, last_seen_at FROM coord_agents
WHERE removed_at IS NULL AND (:name IS NULL OR name = :name) ORDER BY name;

-- name: agent_topics
SELECT s.agent, s.topic FROM coord_subscriptions AS s
WHERE :name IS NULL OR s.agent = :name ORDER BY s.agent, s.topic;

-- name: remove_agent
UPDATE coord_agents SET removed_at = :now WHERE name = :name AND removed_at IS NULL
RETURNING name;

-- name: drop_subscriptions
DELETE FROM coord_subscriptions WHERE agent = :name;

-- name: live_agent
SELECT name FROM coord_agents WHERE name = :name AND removed_at IS NULL;

-- name: touch_agent
UPDATE coord_agents SET last_seen_at = :now WHERE name = :name;

-- name: subscribe
INSERT INTO coord_subscriptions (topic, agent, created_at) VALUES (:topic, :agent, :now)
ON CONFLICT (topic, agent) DO NOTHING;

-- name: unsubscribe
DELETE FROM coord_subscriptions WHERE topic = :topic AND agent = :agent;

-- name: find_keyed_message
SELECT id, address, subject, body, priority, reply_to, thread_id FROM coord_messages
WHERE sender = :sender AND idempotency_key = :key;

-- name: message_deliveries_seq
SELECT agent, seq FROM coord_deliveries WHERE message_id = :id ORDER BY agent;

-- name: parent_thread
SELECT thread_id FROM coord_messages WHERE id = :id;

-- name: thread_exists
SELECT 1 FROM coord_messages WHERE thread_id = :thread LIMIT 1;

-- name: insert_delivery
INSERT INTO coord_deliveries (agent, seq, message_id, priority, delivered_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?);

-- name: handler_policies
SELECT name, policy FROM coord_task_policies
WHERE name IN (SELECT value FROM json_each(:names));

-- name: inbox
SELECT {inbox_columns}
FROM coord_deliveries AS d JOIN coord_messages AS m ON m.id = d.message_id
WHERE d.agent = :agent AND d.seq > :after AND d.state <> 'expired'
  AND (d.expires_at IS NULL OR d.expires_at > :now)
  AND (NOT :unread OR d.state = 'delivered')
  AND (:thread IS NULL OR m.thread_id = :thread)
  AND (:sender IS NULL OR m.sender = :sender)
  AND (:address IS NULL OR m.address = :address)
ORDER BY {inbox_order} LIMIT :limit;

-- name: first_unread
SELECT d.seq FROM coord_deliveries AS d JOIN coord_messages AS m ON m.id = d.message_id
WHERE d.agent = :agent AND d.state = 'delivered'
  AND (d.expires_at IS NULL OR d.expires_at > :now)
  AND (:address IS NULL OR m.address = :address)
ORDER BY {inbox_order} LIMIT 1;

-- name: inbox_entry
SELECT {inbox_columns}
FROM coord_deliveries AS d JOIN coord_messages AS m ON m.id = d.message_id
WHERE d.agent = :agent AND d.message_id = :id;

-- name: mark_read
UPDATE coord_deliveries SET state = 'read', read_at = :now
WHERE agent = :agent AND message_id = :id AND state = 'delivered'
  AND (expires_at IS NULL OR expires_at > :now)
RETURNING seq;

-- name: mark_read_seq
UPDATE coord_deliveries SET state = 'read', read_at = :now
WHERE agent = :agent AND seq = :seq
RETURNING message_id;

-- name: held_messages
SELECT message_id FROM coord_deliveries
WHERE agent = :agent AND message_id IN (SELECT value FROM json_each(:ids));

-- name: ack
UPDATE coord_deliveries SET state = 'acked', acked_at = :now, read_at = coalesce(read_at, :now)
WHERE agent = :agent AND message_id IN (SELECT value FROM json_each(:ids))
  AND state IN ('delivered', 'read')
  AND (expires_at IS NULL OR expires_at > :now)
RETURNING message_id;

-- name: get_message
SELECT {message_columns} FROM coord_messages WHERE id = :id;

-- name: thread_messages
SELECT {message_columns} FROM coord_messages WHERE thread_id = :thread ORDER BY id;

-- name: readable_messages
-- Of the ids given, the messages the agent may read: it sent them, or one was delivered to it
-- (directly, through a topic or to all; in any state, expired too). The one rule of
-- who may see a message or name it in a reply (docs/mailboxes.md).
SELECT m.id FROM coord_messages AS m
WHERE m.id IN (SELECT value FROM json_each(:ids))
  AND (m.sender = :agent OR EXISTS (
      SELECT 1 FROM coord_deliveries AS d WHERE d.message_id = m.id AND d.agent = :agent));

-- name: readable_threads
-- Of the ids given, the threads the agent may read: those holding a message it may read.
SELECT DISTINCT m.thread_id FROM coord_messages AS m
WHERE m.thread_id IN (SELECT value FROM json_each(:ids))
  AND (m.sender = :agent OR EXISTS (
      SELECT 1 FROM coord_deliveries AS d WHERE d.message_id = m.id AND d.agent = :agent));

-- name: deliveries_of
SELECT {delivery_columns}
FROM coord_deliveries AS d WHERE message_id IN (SELECT value FROM json_each(:ids))
ORDER BY message_id, agent;

-- name: message_events
SELECT id, topic, task_id, message_id, actor, data, created_at FROM coord_events
WHERE message_id = :id ORDER BY id;

-- name: expire
UPDATE coord_deliveries SET state = 'expired', expired_at = :now
WHERE expires_at <= :now AND expires_at IS NOT NULL AND state IN ('delivered', 'read')
RETURNING message_id, agent;

-- name: mailbox_sequences
SELECT seq FROM coord_deliveries WHERE agent = :agent ORDER BY seq;

-- name: open_deliveries
-- Deliveries an agent handler has still to see (to enqueue their handler tasks).
SELECT message_id, priority FROM coord_deliveries
WHERE agent = :agent AND state IN ('delivered', 'read')
  AND (expires_at IS NULL OR expires_at > :now)
ORDER BY seq;

-- name: topic_subscribers
SELECT s.agent FROM coord_subscriptions AS s
JOIN coord_agents AS a ON a.name = s.agent AND a.removed_at IS NULL
WHERE s.topic = :topic ORDER BY s.agent;

-- name: live_agents
SELECT name FROM coord_agents WHERE removed_at IS NULL ORDER BY name;

-- name: last_seq
-- Read under the write lock: the batch numbers its deliveries from here and writes
-- the new value back before it commits, so sequences stay gap-free.
SELECT last_seq FROM coord_agents WHERE name = :name;

-- name: set_last_seq
UPDATE coord_agents SET last_seq = ? WHERE name = ?;

-- name: touch_agent_row
UPDATE coord_agents SET last_seen_at = ? WHERE name = ?;

-- name: insert_message_row
INSERT INTO coord_messages (
    id, sender, address, subject, body, priority, thread_id, reply_to, idempotency_key,
    created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);
