-- The roster, the list itself, and the hash-chained audit log.
-- Migrations are add-only: never edit this file once released; add a new one.

-- The one list this database serves.
CREATE TABLE list (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    address      TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE members (
    id                        INTEGER PRIMARY KEY,
    email                     TEXT NOT NULL,
    email_norm                TEXT NOT NULL UNIQUE,
    name                      TEXT NOT NULL,
    org                       TEXT NOT NULL,
    kind                      TEXT NOT NULL CHECK (kind IN ('vendor', 'distribution', 'user', 'individual')),
    roles                     TEXT NOT NULL,
    status                    TEXT NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'removed')),
    fingerprint               TEXT NOT NULL UNIQUE,
    sponsor_id                INTEGER REFERENCES members (id),
    statement                 TEXT,
    needs_sponsor             INTEGER NOT NULL DEFAULT 0 CHECK (needs_sponsor IN (0, 1)),
    -- Only the SHA-256 of the confirmation token is kept.
    confirm_token_hash        TEXT,
    confirm_token_expires_at  TEXT,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL,
    confirmed_at              TEXT
);

CREATE INDEX members_sponsor ON members (sponsor_id);
CREATE INDEX members_status ON members (status);

-- Certificates live apart from the member rows so that listing the roster
-- does not read every certificate.
CREATE TABLE member_certs (
    member_id  INTEGER PRIMARY KEY REFERENCES members (id),
    cert       BLOB NOT NULL
);

-- Append-only: each row's hash covers its content and the previous hash.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    reason     TEXT,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
