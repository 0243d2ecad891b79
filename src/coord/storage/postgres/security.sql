-- Named queries of the PostgreSQL security store: API keys, secrets, idempotency
-- records. Times come from the database clock (now()), like everywhere in this store.
-- Events are built in Python (coord.storage.rows.events) and bound as %(events)s
-- (rows [topic, task_id, run_id, message_id, actor, data]) or as one template
-- (%(event_topic)s, %(event_actor)s, %(event_data)s).

-- name: create_key
-- Only for a live agent: no row means the agent is unknown or removed.
INSERT INTO coord_api_keys (id, agent, role, secret_hash, created_by, expires_at)
SELECT %(id)s, name, %(role)s, %(secret_hash)s, %(actor)s,
       now() + make_interval(secs => %(expires_in)s::double precision)
FROM coord_agents WHERE name = %(agent)s AND removed_at IS NULL
RETURNING id;

-- name: get_key
SELECT id, agent, role,
       CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
            WHEN expires_at <= now() THEN 'expired'
            ELSE 'active' END,
       created_by, created_at, expires_at, revoked_at, last_used_at
FROM coord_api_keys WHERE id = %(id)s;

-- name: list_keys
SELECT id, agent, role,
       CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
            WHEN expires_at <= now() THEN 'expired'
            ELSE 'active' END,
       created_by, created_at, expires_at, revoked_at, last_used_at
FROM coord_api_keys WHERE %(agent)s::text IS NULL OR agent = %(agent)s
ORDER BY created_at, id;

-- name: revoke_key
UPDATE coord_api_keys SET revoked_at = now() WHERE id = %(id)s AND revoked_at IS NULL
RETURNING agent;

-- name: key_credentials
-- The primary key lookup and the agent's primary key: one indexed read per request.
SELECT k.id, k.agent, k.role, k.secret_hash,
       coalesce(k.expires_at <= now(), false), k.revoked_at IS NOT NULL,
       a.role, a.domains, a.human, a.removed_at IS NOT NULL
FROM coord_api_keys AS k JOIN coord_agents AS a ON a.name = k.agent
WHERE k.id = %(id)s;

-- name: touch_key
UPDATE coord_api_keys SET last_used_at = now() WHERE id = %(id)s;

-- name: any_usable_key
SELECT EXISTS (
    SELECT 1 FROM coord_api_keys AS k JOIN coord_agents AS a ON a.name = k.agent
    WHERE k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
      AND a.removed_at IS NULL
);

-- name: put_secret
INSERT INTO coord_secrets (name, ciphertext, key_id, created_by)
VALUES (%(name)s, %(ciphertext)s, %(key_id)s, %(actor)s)
ON CONFLICT (name) DO UPDATE
SET ciphertext = excluded.ciphertext, key_id = excluded.key_id, updated_at = now()
RETURNING name, key_id, created_by, created_at, updated_at;

-- name: get_secret
SELECT name, ciphertext, key_id FROM coord_secrets WHERE name = %(name)s;

-- name: list_secrets
SELECT name, key_id, created_by, created_at, updated_at FROM coord_secrets ORDER BY name;

-- name: sealed_secrets
SELECT name, ciphertext, key_id FROM coord_secrets ORDER BY name;

-- name: reseal_secrets
-- Rows: [name, old_ciphertext, ciphertext, key_id]. Guarded by the old ciphertext: a
-- secret set again since it was read is left alone. The event of each re-encrypted
-- secret (events: one per row, each naming its secret in its data).
WITH c AS (
    SELECT e->>0 AS name, e->>1 AS old_ciphertext, e->>2 AS ciphertext, e->>3 AS key_id
    FROM jsonb_array_elements(%(rows)s::jsonb) AS e
), done AS (
    UPDATE coord_secrets AS s
    SET ciphertext = c.ciphertext, key_id = c.key_id, updated_at = now()
    FROM c WHERE s.name = c.name AND s.ciphertext = c.old_ciphertext
    RETURNING s.name, s.key_id
), ev AS (
    INSERT INTO coord_events (topic, actor, data)
    SELECT e->>0, e->>4, e->5 FROM jsonb_array_elements(%(events)s::jsonb) AS e
    WHERE e->5->>'name' IN (SELECT name FROM done)
)
SELECT count(*) FROM done;

-- name: delete_secret
DELETE FROM coord_secrets WHERE name = %(name)s RETURNING key_id;

-- name: recall_response
SELECT request_hash, status, response FROM coord_idempotency
WHERE scope = %(scope)s AND key = %(key)s;

-- name: remember_response
INSERT INTO coord_idempotency (scope, key, request_hash, status, response)
VALUES (%(scope)s, %(key)s, %(request_hash)s, %(status)s, %(response)s::jsonb)
ON CONFLICT (scope, key) DO NOTHING;

-- name: note_denial
-- One more denial in the address's window (aligned to multiples of :window seconds of
-- the database clock); the first :limit of a window are recorded as events (recorded
-- keeps pace with denials until then, so recorded = denials says this one is).
WITH w AS (
    SELECT to_timestamp(floor(extract(epoch FROM now()) / %(window)s::float8)
                        * %(window)s::float8) AS start
), noted AS (
    INSERT INTO coord_denials AS d (address, window_start, window_end, denials, failures,
                                    recorded)
    SELECT %(address)s, w.start, w.start + make_interval(secs => %(window)s::float8), 1,
           %(failure)s, least(1, %(limit)s::int)
    FROM w
    ON CONFLICT (address, window_start) DO UPDATE
    SET denials = d.denials + 1, failures = d.failures + excluded.failures,
        recorded = d.recorded + CASE WHEN d.recorded < %(limit)s::int THEN 1 ELSE 0 END
    RETURNING d.denials, d.failures, d.recorded = d.denials AND d.recorded > 0 AS logged,
              d.window_end
), ev AS (
    INSERT INTO coord_events (topic, actor, data)
    SELECT %(event_topic)s, %(event_actor)s, %(event_data)s::jsonb FROM noted WHERE logged
)
SELECT denials, failures, logged, extract(epoch FROM window_end - now())::float8 FROM noted;

-- name: denial_tally
SELECT denials, failures, false, extract(epoch FROM window_end - now())::float8
FROM coord_denials
WHERE address = %(address)s AND window_end > now()
ORDER BY window_start DESC LIMIT 1;

-- name: ended_denials
-- Windows that have ended go; the caller records an auth.suppressed event for each
-- that counted denials it did not record, in the same transaction.
DELETE FROM coord_denials WHERE window_end <= now()
RETURNING address, window_start, window_end, denials, recorded;
