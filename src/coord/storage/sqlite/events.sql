-- The event feed of the SQLite store: writers are serialized, so ids grow in commit
-- order and a cursor is the last id seen.

-- name: event_cursor_now
SELECT coalesce(max(id), 0) FROM coord_events;

-- name: events_after
SELECT id, topic, task_id, actor, data, created_at, message_id, run_id FROM coord_events
WHERE id > :after
  AND (:topic IS NULL OR topic = :topic OR substr(topic, 1, length(:topic) + 1) = :topic || '.')
  AND (:run IS NULL OR run_id = :run
       OR task_id IN (SELECT t.id FROM coord_tasks AS t WHERE t.run_id = :run))
  AND (:agent IS NULL OR actor = :agent
       OR message_id IN (SELECT d.message_id FROM coord_deliveries AS d WHERE d.agent = :agent))
ORDER BY id LIMIT :limit;
