-- The outbox: announcements (one mail, rendered and signed once) and their
-- deliveries (one sealed copy per recipient). A delivery row is a promise:
-- it is written in the transaction that decides the mail goes, holds the
-- sealed bytes (never plain text of an embargoed kind), and is claimed
-- with a lease whose generation a completion must name.

CREATE TABLE announcements (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    -- Advisory kinds name the advisory and the revision they were sealed
    -- from; member mail and reports name neither.
    advisory_id  INTEGER REFERENCES advisories (id),
    revision     INTEGER,
    due_at       TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('planned', 'sealed', 'superseded')),
    created_at   TEXT NOT NULL,
    sealed_at    TEXT
);

CREATE UNIQUE INDEX announcements_one_per_revision
    ON announcements (advisory_id, revision, kind) WHERE advisory_id IS NOT NULL;
CREATE INDEX announcements_state ON announcements (state, due_at);

CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    announcement_id  INTEGER NOT NULL REFERENCES announcements (id),
    -- NULL for a public address (the disclosure).
    member_id        INTEGER REFERENCES members (id),
    recipient        TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    -- The complete sealed message; cleared once sent. NULL when missed.
    message          BLOB,
    -- member_certs.version the copy was encrypted for.
    cert_version     INTEGER,
    state            TEXT NOT NULL CHECK (state IN
                       ('queued', 'sending', 'sent', 'uncertain', 'failed', 'missed', 'dropped')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- When it is first due (never sent before) and when to try next; NULL
    -- next_attempt_at means it waits for an operator.
    due_at           TEXT NOT NULL,
    next_attempt_at  TEXT,
    lease_gen        INTEGER NOT NULL DEFAULT 0,
    lease_until      TEXT,
    last_reply       TEXT,
    -- Maintainers were told about this failed, uncertain or missed copy.
    reported         INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    sent_at          TEXT,
    UNIQUE (announcement_id, recipient)
);

CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_member ON deliveries (member_id);

-- A member's certificate changes (a new key, a revocation) bump its version,
-- so a copy sealed for an older one is checked again before it goes.
ALTER TABLE member_certs ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

CREATE TRIGGER member_certs_version AFTER UPDATE OF cert ON member_certs
WHEN OLD.cert IS NOT NEW.cert
BEGIN
    UPDATE member_certs SET version = OLD.version + 1 WHERE member_id = NEW.member_id;
END;

-- A maintainer's hold on an advisory's automatic disclosure.
ALTER TABLE advisories ADD COLUMN hold_until TEXT;
ALTER TABLE advisories ADD COLUMN hold_reason TEXT;

-- When each recurring job last ran.
CREATE TABLE jobs (
    name         TEXT PRIMARY KEY,
    last_run_at  TEXT NOT NULL
);
