-- The event feed of the PostgreSQL store. Ids are not committed in order, so the feed
-- runs in (xid, id) order and stops below the oldest running transaction: nothing can
-- appear behind a cursor later. A cursor is 'XID:ID'.

-- name: event_cursor_now
SELECT pg_snapshot_xmin(pg_current_snapshot())::text || ':0';

-- name: events_after
SELECT id, topic, task_id, actor, data, created_at, message_id, run_id, xid::text AS xid
FROM coord_events
WHERE (xid, id) > (%(xid)s::xid8, %(after)s::bigint)
  AND xid < pg_snapshot_xmin(pg_current_snapshot())
  AND (%(topic)s::text IS NULL OR topic = %(topic)s::text
       OR left(topic, length(%(topic)s::text) + 1) = %(topic)s::text || '.')
  AND (%(run)s::uuid IS NULL OR run_id = %(run)s::uuid
       OR task_id IN (SELECT t.id FROM coord_tasks AS t WHERE t.run_id = %(run)s::uuid))
  AND (%(agent)s::text IS NULL OR actor = %(agent)s::text
       OR message_id IN (SELECT d.message_id FROM coord_deliveries AS d
                         WHERE d.agent = %(agent)s::text))
ORDER BY xid, id LIMIT %(limit)s;

-- name: feed_horizon
SELECT pg_snapshot_xmin(pg_current_snapshot())::text;
