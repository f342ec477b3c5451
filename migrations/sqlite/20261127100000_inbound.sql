-- Inbound mail: signed commands, their replay guard, acknowledgements,
-- bounces.

-- Every signing-capable key of each member's certificate (the primary and
-- any signing subkeys), so a signature's issuer finds its member.
CREATE TABLE member_keys (
    fingerprint  TEXT PRIMARY KEY,
    member_id    INTEGER NOT NULL REFERENCES members (id)
);
CREATE INDEX member_keys_member ON member_keys (member_id);

-- Keys of members that existed before this table: their primary key.
INSERT OR IGNORE INTO member_keys (fingerprint, member_id) SELECT fingerprint, id FROM members;

-- A signed command is used once: (signer, signature time, hash of the
-- signed bytes), written in the transaction of the command's effect.
CREATE TABLE inbound_signatures (
    signer       TEXT NOT NULL,
    signed_at    TEXT NOT NULL,
    digest       TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    PRIMARY KEY (signer, signed_at, digest)
);

-- Members' answers to an advisory: ACK <id> <status>.
CREATE TABLE acks (
    advisory_id  INTEGER NOT NULL REFERENCES advisories (id),
    member_id    INTEGER NOT NULL REFERENCES members (id),
    status       TEXT NOT NULL CHECK (status IN ('received', 'affected', 'not-affected', 'fixed')),
    note         TEXT,
    at           TEXT NOT NULL,
    PRIMARY KEY (advisory_id, member_id)
);

-- Bounces: per copy, and a score per member.
ALTER TABLE deliveries ADD COLUMN bounce TEXT CHECK (bounce IN ('hard', 'soft'));
ALTER TABLE members ADD COLUMN bounce_score REAL NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN bounce_reported INTEGER NOT NULL DEFAULT 0;

-- Secrets the list makes for itself (the bounce-token key when the config
-- names none).
CREATE TABLE secrets (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
