-- 0004: API keys, encrypted secrets, API idempotency records and the audit ledger.

-- One entry per sealed event: hash = SHA-256 over the canonical JSON (RFC 8785) of the
-- entry's seq, the previous entry's hash and the event. No foreign key on purpose: a
-- deleted event must show up in `coord audit verify`. SQLite writers are serialized,
-- so event ids grow in commit order and the sealer simply continues after the head.
CREATE TABLE coord_ledger (
    seq       INTEGER PRIMARY KEY CHECK (seq > 0),
    event_id  INTEGER NOT NULL UNIQUE,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    sealed_at REAL NOT NULL
) STRICT;

CREATE TABLE coord_ledger_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    seq       INTEGER NOT NULL DEFAULT 0,
    hash      TEXT NOT NULL,
    event_id  INTEGER NOT NULL DEFAULT 0,
    sealed_at REAL
) STRICT;
INSERT INTO coord_ledger_head (id, hash)
VALUES (1, '0000000000000000000000000000000000000000000000000000000000000000');

-- API keys: the secret is never stored, only its SHA-256.
CREATE TABLE coord_api_keys (
    id           TEXT PRIMARY KEY,
    agent        TEXT NOT NULL REFERENCES coord_agents (name),
    role         TEXT,
    secret_hash  TEXT NOT NULL,
    created_by   TEXT,
    created_at   REAL NOT NULL,
    expires_at   REAL,
    revoked_at   REAL,
    last_used_at REAL
) STRICT;
CREATE INDEX coord_api_keys_agent ON coord_api_keys (agent);

-- Secrets encrypted at rest (Fernet); key_id names the key that encrypted it.
CREATE TABLE coord_secrets (
    name       TEXT PRIMARY KEY,
    ciphertext TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    created_by TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
) STRICT;

-- The first response to an API request with an Idempotency-Key, per caller and key.
CREATE TABLE coord_idempotency (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    response     TEXT NOT NULL,
    created_at   REAL NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT;
