-- Many lists in one database. `lists` replaces the one-row `list`; every
-- table that holds a list's own rows gets `list_id`, and what was unique
-- in the database (an address on the roster, a key's fingerprint, an
-- advisory id, a job's or a secret's name) is now unique within a list.
-- Everything already stored belongs to list 1, named after its address's
-- local part.
--
-- SQLite cannot change a column's UNIQUE constraint, so the tables that
-- carry one are rebuilt. Foreign keys stay on (the migration runs in one
-- transaction, where `PRAGMA foreign_keys` cannot change): their checks
-- are deferred to the commit, by which time every reference points at
-- the rebuilt table of the same name again. A table other rows reference
-- (members, advisories) is copied aside, dropped, made again under its
-- own name and filled from the copy: dropping it counts each reference to
-- it as a deferred violation, and only rows inserted into a table of that
-- name take the count back down (rows inserted into a `_new` table that is
-- renamed afterwards do not, so the commit failed on any database with a
-- member or an advisory).
PRAGMA defer_foreign_keys = ON;

CREATE TABLE lists (
    id            INTEGER PRIMARY KEY,
    -- The name `--list` takes.
    name          TEXT NOT NULL UNIQUE,
    address       TEXT NOT NULL,
    address_norm  TEXT NOT NULL UNIQUE,
    -- NULL for list 1 until the config's request address is recorded.
    request_norm  TEXT UNIQUE,
    fingerprint   TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

-- The name is the one `init` gives a new list (`config::default_name`):
-- the local part in lower case (ASCII), each character a list name cannot
-- hold made `-`, at most 64 characters, and `list` when that does not
-- start with a letter or a digit. A name kept as it was (`sec+team`)
-- would be one no `--list` check or `[lists.NAME]` table accepts.
WITH RECURSIVE
    local_part (s) AS (
        SELECT lower(substr(address, 1, instr(address, '@') - 1)) FROM list
    ),
    cleaned (i, name) AS (
        SELECT 0, ''
        UNION ALL
        SELECT i + 1, name || CASE WHEN substr(s, i + 1, 1) GLOB '[a-z0-9._-]'
                                   THEN substr(s, i + 1, 1) ELSE '-' END
        FROM cleaned, local_part
        WHERE i < length(s) AND i < 64
    ),
    named (name) AS (SELECT name FROM cleaned ORDER BY i DESC LIMIT 1)
INSERT INTO lists (id, name, address, address_norm, fingerprint, created_at)
SELECT 1, CASE WHEN named.name GLOB '[a-z0-9]*' THEN named.name ELSE 'list' END,
       address, lower(address), fingerprint, created_at
FROM list, named;

DROP TABLE list;

-- Dropping a table other rows reference, and filling its new copy, looks
-- up the rows that reference each row: a reference without an index of
-- its own gets one for the length of the migration (without them, 10,000
-- members took 15 s, most of it scanning the roster for each member's
-- sponsor).
CREATE INDEX migration_acks_member ON acks (member_id);
CREATE INDEX migration_retired_member ON retired_member_keys (member_id);

-- members
CREATE TABLE members_old AS SELECT * FROM members;
DROP TABLE members;
CREATE TABLE members (
    id                        INTEGER PRIMARY KEY,
    list_id                   INTEGER NOT NULL REFERENCES lists (id),
    email                     TEXT NOT NULL,
    email_norm                TEXT NOT NULL,
    name                      TEXT NOT NULL,
    org                       TEXT NOT NULL,
    kind                      TEXT NOT NULL CHECK (kind IN ('vendor', 'distribution', 'user', 'individual')),
    roles                     TEXT NOT NULL,
    status                    TEXT NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'removed')),
    fingerprint               TEXT NOT NULL,
    sponsor_id                INTEGER REFERENCES members (id),
    statement                 TEXT,
    needs_sponsor             INTEGER NOT NULL DEFAULT 0 CHECK (needs_sponsor IN (0, 1)),
    confirm_token_hash        TEXT,
    confirm_token_expires_at  TEXT,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL,
    confirmed_at              TEXT,
    summary                   TEXT NOT NULL DEFAULT '{}',
    bounce_score              REAL NOT NULL DEFAULT 0,
    bounce_reported           INTEGER NOT NULL DEFAULT 0,
    UNIQUE (list_id, email_norm),
    UNIQUE (list_id, fingerprint)
);
CREATE INDEX members_sponsor ON members (sponsor_id);
INSERT INTO members (id, list_id, email, email_norm, name, org, kind, roles, status,
    fingerprint, sponsor_id, statement, needs_sponsor, confirm_token_hash,
    confirm_token_expires_at, created_at, updated_at, confirmed_at, summary, bounce_score,
    bounce_reported)
SELECT id, 1, email, email_norm, name, org, kind, roles, status, fingerprint, sponsor_id,
    statement, needs_sponsor, confirm_token_hash, confirm_token_expires_at, created_at,
    updated_at, confirmed_at, summary, bounce_score, bounce_reported
FROM members_old;
DROP TABLE members_old;
CREATE INDEX members_status ON members (list_id, status);

CREATE TRIGGER members_summary_after_insert AFTER INSERT ON members
BEGIN
    UPDATE members SET summary = json_object(
        'email', NEW.email,
        'name', NEW.name,
        'org', NEW.org,
        'kind', NEW.kind,
        'roles', json('["' || replace(NEW.roles, ',', '","') || '"]'),
        'status', NEW.status,
        'fingerprint', NEW.fingerprint,
        'sponsor', (SELECT s.email FROM members s WHERE s.id = NEW.sponsor_id),
        'needs_sponsor', json(CASE NEW.needs_sponsor WHEN 1 THEN 'true' ELSE 'false' END)
    ) WHERE id = NEW.id;
END;

CREATE TRIGGER members_summary_after_update
AFTER UPDATE OF email, name, org, kind, roles, status, fingerprint, sponsor_id, needs_sponsor ON members
BEGIN
    UPDATE members SET summary = json_object(
        'email', NEW.email,
        'name', NEW.name,
        'org', NEW.org,
        'kind', NEW.kind,
        'roles', json('["' || replace(NEW.roles, ',', '","') || '"]'),
        'status', NEW.status,
        'fingerprint', NEW.fingerprint,
        'sponsor', (SELECT s.email FROM members s WHERE s.id = NEW.sponsor_id),
        'needs_sponsor', json(CASE NEW.needs_sponsor WHEN 1 THEN 'true' ELSE 'false' END)
    ) WHERE id = NEW.id;
END;

-- member_keys and retired_member_keys: a certificate may be shared by one
-- person's memberships of several lists.
CREATE TABLE member_keys_new (
    list_id      INTEGER NOT NULL REFERENCES lists (id),
    fingerprint  TEXT NOT NULL,
    member_id    INTEGER NOT NULL REFERENCES members (id),
    PRIMARY KEY (list_id, fingerprint)
);
INSERT INTO member_keys_new (list_id, fingerprint, member_id)
SELECT 1, fingerprint, member_id FROM member_keys;
DROP TABLE member_keys;
ALTER TABLE member_keys_new RENAME TO member_keys;
CREATE INDEX member_keys_member ON member_keys (member_id);

CREATE TABLE retired_member_keys_new (
    list_id      INTEGER NOT NULL REFERENCES lists (id),
    fingerprint  TEXT NOT NULL,
    member_id    INTEGER NOT NULL REFERENCES members (id),
    cert         BLOB NOT NULL,
    retired_at   TEXT NOT NULL,
    PRIMARY KEY (list_id, fingerprint)
);
INSERT INTO retired_member_keys_new (list_id, fingerprint, member_id, cert, retired_at)
SELECT 1, fingerprint, member_id, cert, retired_at FROM retired_member_keys;
DROP TABLE retired_member_keys;
ALTER TABLE retired_member_keys_new RENAME TO retired_member_keys;

-- advisories: an advisory id is unique within its list.
CREATE TABLE advisories_old AS SELECT * FROM advisories;
DROP TABLE advisories;
CREATE TABLE advisories (
    id            INTEGER PRIMARY KEY,
    list_id       INTEGER NOT NULL REFERENCES lists (id),
    ident         TEXT NOT NULL,
    ident_norm    TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'notified', 'disclosed', 'cancelled')),
    revision      INTEGER NOT NULL CHECK (revision >= 1),
    content       TEXT NOT NULL,
    announce_at   TEXT,
    message_key   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    hold_until    TEXT,
    hold_reason   TEXT,
    UNIQUE (list_id, ident_norm)
);
INSERT INTO advisories (id, list_id, ident, ident_norm, status, revision, content,
    announce_at, message_key, created_at, updated_at, hold_until, hold_reason)
SELECT id, 1, ident, ident_norm, status, revision, content, announce_at, message_key,
    created_at, updated_at, hold_until, hold_reason
FROM advisories_old;
DROP TABLE advisories_old;

-- jobs and secrets: per list.
CREATE TABLE jobs_new (
    list_id      INTEGER NOT NULL REFERENCES lists (id),
    name         TEXT NOT NULL,
    last_run_at  TEXT NOT NULL,
    PRIMARY KEY (list_id, name)
);
INSERT INTO jobs_new (list_id, name, last_run_at) SELECT 1, name, last_run_at FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;

CREATE TABLE secrets_new (
    list_id  INTEGER NOT NULL REFERENCES lists (id),
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (list_id, name)
);
INSERT INTO secrets_new (list_id, name, value) SELECT 1, name, value FROM secrets;
DROP TABLE secrets;
ALTER TABLE secrets_new RENAME TO secrets;

-- The audit log: one hash chain per list, numbered from 1 in each.
CREATE TABLE audit_log_new (
    list_id    INTEGER NOT NULL REFERENCES lists (id),
    seq        INTEGER NOT NULL,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    reason     TEXT,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    PRIMARY KEY (list_id, seq)
);
INSERT INTO audit_log_new (list_id, seq, at, actor, action, subject, reason, detail, prev_hash, hash)
SELECT 1, seq, at, actor, action, subject, reason, detail, prev_hash, hash FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_new RENAME TO audit_log;

-- Tables whose uniqueness does not change get the column. SQLite cannot
-- add a column that references another table with a non-NULL default, so
-- these columns carry no foreign key; the store always writes them.

ALTER TABLE announcements ADD COLUMN list_id INTEGER NOT NULL DEFAULT 1;
CREATE INDEX announcements_list ON announcements (list_id, state, due_at);

ALTER TABLE deliveries ADD COLUMN list_id INTEGER NOT NULL DEFAULT 1;
CREATE INDEX deliveries_list_due ON deliveries (list_id, state, next_attempt_at);

ALTER TABLE inbound_signatures ADD COLUMN list_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE inbound_commands ADD COLUMN list_id INTEGER NOT NULL DEFAULT 1;

DROP INDEX migration_acks_member;

-- Instance-wide: the foundation's observers, who see counts across every
-- list and nothing of any advisory.
CREATE TABLE observers (
    id           INTEGER PRIMARY KEY,
    email        TEXT NOT NULL,
    email_norm   TEXT NOT NULL UNIQUE,
    fingerprint  TEXT NOT NULL,
    cert         BLOB NOT NULL,
    created_at   TEXT NOT NULL
);
