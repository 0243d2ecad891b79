-- Named queries of the SQLite security store: API keys, secrets, idempotency records.
-- Times are epoch seconds bound as :now.

-- name: create_key
-- Only for a live agent: no row means the agent is unknown or removed.
INSERT INTO coord_api_keys (id, agent, role, secret_hash, created_by, created_at, expires_at)
SELECT :id, name, :role, :secret_hash, :actor, :now, :now + :expires_in
FROM coord_agents WHERE name = :agent AND removed_at IS NULL
RETURNING id;

-- name: get_key
SELECT id, agent, role,
       CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
            WHEN expires_at IS NOT NULL AND expires_at <= :now THEN 'expired'
            ELSE 'active' END,
       created_by, created_at, expires_at, revoked_at, last_used_at
FROM coord_api_keys WHERE id = :id;

-- name: list_keys
SELECT id, agent, role,
       CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
            WHEN expires_at IS NOT NULL AND expires_at <= :now THEN 'expired'
            ELSE 'active' END,
       created_by, created_at, expires_at, revoked_at, last_used_at
FROM coord_api_keys WHERE :agent IS NULL OR agent = :agent
ORDER BY created_at, id;

-- name: revoke_key
UPDATE coord_api_keys SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL
RETURNING agent;

-- name: key_credentials
-- The primary key lookup and the agent's primary key: one indexed read per request.
SELECT k.id, k.agent, k.role, k.secret_hash,
       k.expires_at IS NOT NULL AND k.expires_at <= :now, k.revoked_at IS NOT NULL,
       a.role, a.domains, a.human, a.removed_at IS NOT NULL
FROM coord_api_keys AS k JOIN coord_agents AS a ON a.name = k.agent
WHERE k.id = :id;

-- name: touch_key
UPDATE coord_api_keys SET last_used_at = :now WHERE id = :id;

-- name: any_usable_key
SELECT EXISTS (
    SELECT 1 FROM coord_api_keys AS k JOIN coord_agents AS a ON a.name = k.agent
    WHERE k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > :now)
      AND a.removed_at IS NULL
);

-- name: put_secret
INSERT INTO coord_secrets (name, ciphertext, key_id, created_by, created_at, updated_at)
VALUES (:name, :ciphertext, :key_id, :actor, :now, :now)
ON CONFLICT (name) DO UPDATE
SET ciphertext = excluded.ciphertext, key_id = excluded.key_id, updated_at = excluded.updated_at
RETURNING name, key_id, created_by, created_at, updated_at;

-- name: get_secret
SELECT name, ciphertext, key_id FROM coord_secrets WHERE name = :name;

-- name: list_secrets
SELECT name, key_id, created_by, created_at, updated_at FROM coord_secrets ORDER BY name;

-- name: sealed_secrets
SELECT name, ciphertext, key_id FROM coord_secrets ORDER BY name;

-- name: reseal_secret
-- Guarded by the old ciphertext: a secret set again since it was read is left alone.
UPDATE coord_secrets SET ciphertext = :ciphertext, key_id = :key_id, updated_at = :now
WHERE name = :name AND ciphertext = :old_ciphertext
RETURNING name;

-- name: delete_secret
DELETE FROM coord_secrets WHERE name = :name RETURNING key_id;

-- name: recall_response
SELECT request_hash, status, response FROM coord_idempotency WHERE scope = :scope AND key = :key;

-- name: remember_response
INSERT INTO coord_idempotency (scope, key, request_hash, status, response, created_at)
VALUES (:scope, :key, :request_hash, :status, :response, :now)
ON CONFLICT (scope, key) DO NOTHING;

-- name: note_denial
-- One more denial in the address's window; the first :limit of a window are recorded
-- (recorded keeps pace with denials until then, so recorded = denials says this one is).
INSERT INTO coord_denials (address, window_start, window_end, denials, failures, recorded)
VALUES (:address, :window_start, :window_end, 1, :failure, min(1, :limit))
ON CONFLICT (address, window_start) DO UPDATE
SET denials = denials + 1, failures = failures + excluded.failures,
    recorded = recorded + (recorded < :limit)
RETURNING denials, failures, recorded = denials AND recorded > 0, window_end - :now;

-- name: denial_tally
SELECT denials, failures, 0, window_end - :now FROM coord_denials
WHERE address = :address AND window_end > :now
ORDER BY window_start DESC LIMIT 1;

-- name: any_ended_denials
SELECT EXISTS (SELECT 1 FROM coord_denials WHERE window_end <= :now);

-- name: ended_denials
DELETE FROM coord_denials WHERE window_end <= :now
RETURNING address, window_start, window_end, denials, recorded;
