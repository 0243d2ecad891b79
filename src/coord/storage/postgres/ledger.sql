-- The audit ledger (see coord.domain.ledger). Event ids are not committed in order on
-- PostgreSQL, so events are sealed in (xid, id) order, and only those whose
-- transaction is older than the oldest one still running: every such transaction has
-- ended, so no event can appear below that horizon after the sealer passed it.

-- name: lock_head
-- One sealer at a time: the others wait here, then continue from the moved head.
SELECT seq, hash, event_xid::text, event_id
FROM coord_ledger_head
WHERE id = 1
FOR UPDATE

-- name: events_to_seal
SELECT id, topic, task_id, run_id, message_id, actor, created_at, data::text, xid::text
FROM coord_events
WHERE (xid, id) > (%(xid)s::text::xid8, %(id)s::bigint)
  AND xid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY xid, id
LIMIT %(limit)s

-- name: insert_entries
INSERT INTO coord_ledger (seq, event_id, prev_hash, hash)
SELECT * FROM unnest(%(seqs)s::bigint[], %(event_ids)s::bigint[], %(prev_hashes)s::text[],
                     %(hashes)s::text[])

-- name: move_head
UPDATE coord_ledger_head
SET seq = %(seq)s, hash = %(hash)s, event_xid = %(xid)s::text::xid8, event_id = %(event_id)s,
    sealed_at = now()
WHERE id = 1

-- name: head
-- The head, with the highest seq stored (one statement, one snapshot).
SELECT h.seq, h.hash, h.event_id, h.sealed_at,
       coalesce((SELECT max(seq) FROM coord_ledger), 0) AS max_seq
FROM coord_ledger_head AS h
WHERE h.id = 1

-- name: entries
-- Entries joined to their events (LEFT JOIN: a deleted event must show, not vanish).
SELECT l.seq, l.event_id, l.prev_hash, l.hash,
       e.id, e.topic, e.task_id, e.run_id, e.message_id, e.actor, e.created_at, e.data::text,
       e.xid::text
FROM coord_ledger AS l
LEFT JOIN coord_events AS e ON e.id = l.event_id
WHERE l.seq > %(after)s AND l.seq <= %(up_to)s
ORDER BY l.seq
LIMIT %(limit)s

-- name: backlog
-- Every event after the head, including those still waiting for older transactions.
SELECT count(*), min(e.created_at)
FROM coord_events AS e, coord_ledger_head AS h
WHERE h.id = 1 AND (e.xid, e.id) > (h.event_xid, h.event_id)

-- name: stray_event
-- The first event at or before the head's place that no entry seals, and the first
-- entry sealed after it.
SELECT e.id,
       (SELECT min(l2.seq)
        FROM coord_ledger AS l2 JOIN coord_events AS e2 ON e2.id = l2.event_id
        WHERE (e2.xid, e2.id) > (e.xid, e.id)) AS next_seq
FROM coord_events AS e, coord_ledger_head AS h
WHERE h.id = 1 AND (e.xid, e.id) <= (h.event_xid, h.event_id)
  AND NOT EXISTS (SELECT 1 FROM coord_ledger AS l WHERE l.event_id = e.id)
ORDER BY e.xid, e.id
LIMIT 1

-- name: content_coord_tasks
-- Stored content and the events that recorded it (coord.domain.sealed_content): a
-- batch of rows in id order, JSON columns as jsonb's text, each with [topic, event
-- id, entry seq or null, data] of its events of the topics given. One statement, so rows
-- and events are one snapshot.
SELECT t.id::text, t.payload::text, t.result::text, t.checkpoint::text,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(e.topic, e.id, l.seq, e.data)), '[]')
        FROM coord_events AS e LEFT JOIN coord_ledger AS l ON l.event_id = e.id
        WHERE e.task_id = t.id AND e.topic = ANY(%(topics)s::text[]))
FROM coord_tasks AS t
WHERE t.id > %(after)s::uuid
ORDER BY t.id
LIMIT %(limit)s

-- name: content_coord_messages
SELECT m.id::text, m.subject, m.body::text,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(e.topic, e.id, l.seq, e.data)), '[]')
        FROM coord_events AS e LEFT JOIN coord_ledger AS l ON l.event_id = e.id
        WHERE e.message_id = m.id AND e.topic = ANY(%(topics)s::text[]))
FROM coord_messages AS m
WHERE m.id > %(after)s::uuid
ORDER BY m.id
LIMIT %(limit)s

-- name: content_coord_runs
SELECT r.id::text, r.input::text,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(e.topic, e.id, l.seq, e.data)), '[]')
        FROM coord_events AS e LEFT JOIN coord_ledger AS l ON l.event_id = e.id
        WHERE e.run_id = r.id AND e.topic = ANY(%(topics)s::text[]))
FROM coord_runs AS r
WHERE r.id > %(after)s::uuid
ORDER BY r.id
LIMIT %(limit)s

-- name: artifact_contents
SELECT digest, content FROM coord_artifacts WHERE digest > %(after)s ORDER BY digest LIMIT %(limit)s
