-- The audit ledger (see coord.domain.ledger). SQLite writers are serialized, so event
-- ids grow in commit order: the sealer continues after the head's event id.

-- name: head
-- The head, with the highest seq stored (one read, one snapshot).
SELECT h.seq, h.hash, h.event_id, h.sealed_at,
       coalesce((SELECT max(seq) FROM coord_ledger), 0) AS max_seq
FROM coord_ledger_head AS h
WHERE h.id = 1

-- name: events_to_seal
SELECT id, topic, task_id, run_id, message_id, actor, created_at, data
FROM coord_events
WHERE id > :after
ORDER BY id
LIMIT :limit

-- name: insert_entry
INSERT INTO coord_ledger (seq, event_id, prev_hash, hash, sealed_at)
VALUES (?, ?, ?, ?, ?)

-- name: move_head
UPDATE coord_ledger_head
SET seq = :seq, hash = :hash, event_id = :event_id, sealed_at = :now
WHERE id = 1

-- name: entries
-- Entries joined to their events (LEFT JOIN: a deleted event must show, not vanish).
SELECT l.seq, l.event_id, l.prev_hash, l.hash,
       e.id, e.topic, e.task_id, e.run_id, e.message_id, e.actor, e.created_at, e.data
FROM coord_ledger AS l
LEFT JOIN coord_events AS e ON e.id = l.event_id
WHERE l.seq > :after AND l.seq <= :up_to
ORDER BY l.seq
LIMIT :limit

-- name: backlog
SELECT count(*), min(created_at)
FROM coord_events
WHERE id > (SELECT event_id FROM coord_ledger_head WHERE id = 1)

-- name: stray_event
-- The first event at or before the head's event that no entry seals, and the first
-- entry sealed after it.
SELECT e.id,
       (SELECT min(l2.seq) FROM coord_ledger AS l2 WHERE l2.event_id > e.id) AS next_seq
FROM coord_events AS e
WHERE e.id <= (SELECT event_id FROM coord_ledger_head WHERE id = 1)
  AND NOT EXISTS (SELECT 1 FROM coord_ledger AS l WHERE l.event_id = e.id)
ORDER BY e.id
LIMIT 1

-- name: content_coord_tasks
-- Stored content and the events that recorded it (coord.domain.sealed_content): a
-- batch of rows in id order, each with [topic, event id, entry seq or null, data] of
-- its events of the topics given. One statement: rows and events are one snapshot.
SELECT t.id, t.payload, t.result, t.checkpoint,
       (SELECT json_group_array(json_array(e.topic, e.id, l.seq, json(e.data)))
        FROM coord_events AS e LEFT JOIN coord_ledger AS l ON l.event_id = e.id
        WHERE e.task_id = t.id AND e.topic IN (SELECT value FROM json_each(:topics)))
FROM coord_tasks AS t
WHERE t.id > :after
ORDER BY t.id
LIMIT :limit

-- name: content_coord_messages
SELECT m.id, m.subject, m.body,
       (SELECT json_group_array(json_array(e.topic, e.id, l.seq, json(e.data)))
        FROM coord_events AS e LEFT JOIN coord_ledger AS l ON l.event_id = e.id
        WHERE e.message_id = m.id AND e.topic IN (SELECT value FROM json_each(:topics)))
FROM coord_messages AS m
WHERE m.id > :after
ORDER BY m.id
LIMIT :limit

-- name: content_coord_runs
SELECT r.id, r.input,
       (SELECT json_group_array(json_array(e.topic, e.id, l.seq, json(e.data)))
        FROM coord_events AS e LEFT JOIN coord_ledger AS l ON l.event_id = e.id
        WHERE e.run_id = r.id AND e.topic IN (SELECT value FROM json_each(:topics)))
FROM coord_runs AS r
WHERE r.id > :after
ORDER BY r.id
LIMIT :limit

-- name: artifact_contents
SELECT digest, content FROM coord_artifacts WHERE digest > :after ORDER BY digest LIMIT :limit
