-- The public documents (OSV and CSAF) a disclosure owes. The row is
-- written in the transaction that discloses the advisory; the documents
-- are written after it commits and, when the export folder cannot be
-- written, retried on their own ladder, so a failing export holds back
-- neither the disclosure mail nor any other mail.
CREATE TABLE exports (
    advisory_id      INTEGER PRIMARY KEY REFERENCES advisories (id),
    state            TEXT NOT NULL CHECK (state IN ('pending', 'written')),
    -- The instant the documents say the advisory was published.
    published_at     TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    -- Whether maintainers were told that writing failed (once).
    reported         INTEGER NOT NULL DEFAULT 0,
    written_at       TEXT
);

CREATE INDEX exports_due ON exports (next_attempt_at) WHERE state = 'pending';
