-- Advisories and their revisions. The content of each revision is kept as
-- JSON (the advisory module's Content); the current one is copied onto the
-- advisory row so reads need no join.

CREATE TABLE advisories (
    id            INTEGER PRIMARY KEY,
    ident         TEXT NOT NULL,
    ident_norm    TEXT NOT NULL UNIQUE,
    status        TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'notified', 'disclosed', 'cancelled')),
    revision      INTEGER NOT NULL CHECK (revision >= 1),
    content       TEXT NOT NULL,
    announce_at   TEXT,
    -- A random key that makes Message-IDs stable per member and revision
    -- without revealing the advisory id.
    message_key   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE advisory_revisions (
    advisory_id  INTEGER NOT NULL REFERENCES advisories (id),
    revision     INTEGER NOT NULL,
    content      TEXT NOT NULL,
    -- JSON list of {field, old, new}: what changed from the revision before.
    changes      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (advisory_id, revision)
);
