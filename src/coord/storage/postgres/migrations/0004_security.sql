-- 0004: API keys, encrypted secrets, API idempotency records and the audit ledger.

-- The ledger seals events in the order their transactions became visible: an event
-- is sealable once every transaction older than its own has ended (its xid is below
-- the oldest running one), so one committed later with a smaller id is never skipped.
ALTER TABLE coord_events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX coord_events_seal ON coord_events (xid, id);

-- One entry per sealed event: hash = SHA-256 over the canonical JSON (RFC 8785) of the
-- entry's seq, the previous entry's hash and the event. No foreign key on purpose:
-- a deleted event must show up in `coord audit verify`, not be prevented by a constraint
-- that the same attacker could drop.
CREATE TABLE coord_ledger (
    seq       bigint PRIMARY KEY CHECK (seq > 0),
    event_id  bigint NOT NULL UNIQUE,
    prev_hash text NOT NULL,
    hash      text NOT NULL,
    sealed_at timestamptz NOT NULL DEFAULT now()
);

-- The chain head, one row: where the next sealer continues (its row lock makes one
-- sealer at a time).
CREATE TABLE coord_ledger_head (
    id        smallint PRIMARY KEY CHECK (id = 1),
    seq       bigint NOT NULL DEFAULT 0,
    hash      text NOT NULL,
    event_xid xid8 NOT NULL DEFAULT '0',
    event_id  bigint NOT NULL DEFAULT 0,
    sealed_at timestamptz
);
INSERT INTO coord_ledger_head (id, hash)
VALUES (1, '0000000000000000000000000000000000000000000000000000000000000000');

-- API keys: the secret is never stored, only its SHA-256.
CREATE TABLE coord_api_keys (
    id           text PRIMARY KEY,
    agent        text NOT NULL REFERENCES coord_agents (name),
    role         text,
    secret_hash  text NOT NULL,
    created_by   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX coord_api_keys_agent ON coord_api_keys (agent);

-- Secrets encrypted at rest (Fernet); key_id names the key that encrypted it, so a
-- rotation knows what is left to re-encrypt.
CREATE TABLE coord_secrets (
    name       text PRIMARY KEY,
    ciphertext text NOT NULL,
    key_id     text NOT NULL,
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The first response to an API request with an Idempotency-Key, per caller and key.
CREATE TABLE coord_idempotency (
    scope        text NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    status       smallint NOT NULL,
    response     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
