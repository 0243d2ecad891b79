-- 0002: agent mailboxes (agents, topics, messages, deliveries) and message events.

ALTER TABLE coord_events ADD COLUMN message_id TEXT;
CREATE INDEX coord_events_message ON coord_events (message_id, id) WHERE message_id IS NOT NULL;

-- Agents are never deleted: removing one sets removed_at, so its mailbox sequence
-- (last_seq) stays gap-free if the name is added again, and its messages are kept.
CREATE TABLE coord_agents (
    name         TEXT PRIMARY KEY,
    role         TEXT,
    domains      TEXT NOT NULL DEFAULT '[]',
    description  TEXT,
    human        INTEGER NOT NULL DEFAULT 0 CHECK (human IN (0, 1)),
    last_seq     INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    created_at   REAL NOT NULL,
    last_seen_at REAL,
    removed_at   REAL
) STRICT;

CREATE TABLE coord_subscriptions (
    topic      TEXT NOT NULL,
    agent      TEXT NOT NULL REFERENCES coord_agents (name),
    created_at REAL NOT NULL,
    PRIMARY KEY (topic, agent)
) STRICT, WITHOUT ROWID;
CREATE INDEX coord_subscriptions_agent ON coord_subscriptions (agent, topic);

CREATE TABLE coord_messages (
    id              TEXT PRIMARY KEY,
    sender          TEXT NOT NULL,
    address         TEXT NOT NULL,
    subject         TEXT NOT NULL CHECK (length(subject) > 0),
    body            TEXT NOT NULL,
    priority        INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),
    thread_id       TEXT NOT NULL,
    reply_to        TEXT REFERENCES coord_messages (id),
    idempotency_key TEXT,
    created_at      REAL NOT NULL,
    expires_at      REAL
) STRICT;
CREATE INDEX coord_messages_thread ON coord_messages (thread_id, id);
CREATE UNIQUE INDEX coord_messages_idempotency ON coord_messages (sender, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- One row per recipient; seq numbers each mailbox 1, 2, 3... without gaps.
CREATE TABLE coord_deliveries (
    agent        TEXT NOT NULL,
    seq          INTEGER NOT NULL CHECK (seq >= 1),
    message_id   TEXT NOT NULL REFERENCES coord_messages (id),
    priority     INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),
    state        TEXT NOT NULL DEFAULT 'delivered'
                 CHECK (state IN ('delivered', 'read', 'acked', 'expired')),
    delivered_at REAL NOT NULL,
    read_at      REAL,
    acked_at     REAL,
    expired_at   REAL,
    expires_at   REAL,
    PRIMARY KEY (agent, seq)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX coord_deliveries_message ON coord_deliveries (message_id, agent);
CREATE INDEX coord_deliveries_unread ON coord_deliveries (agent, priority DESC, seq)
    WHERE state = 'delivered';
-- The expiry sweep reads only live deliveries that have a TTL.
CREATE INDEX coord_deliveries_expiry ON coord_deliveries (expires_at)
    WHERE expires_at IS NOT NULL AND state IN ('delivered', 'read');
