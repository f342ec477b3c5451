-- Reports as cases (issue 12): only metadata here. A report's text is
-- never stored in clear: only as ciphertext to the list key.
CREATE TABLE cases (
    id                    INTEGER PRIMARY KEY,
    list_id               INTEGER NOT NULL REFERENCES lists (id),
    year                  INTEGER NOT NULL,
    number                INTEGER NOT NULL,
    state                 TEXT NOT NULL CHECK (state IN ('open', 'closed', 'rejected')),
    reporter              TEXT NOT NULL,
    reporter_norm         TEXT NOT NULL,
    reporter_fingerprint  TEXT,
    -- 1 when our MTA's Authentication-Results vouched for the From domain.
    reporter_verified     INTEGER NOT NULL DEFAULT 0,
    opened_at             TEXT NOT NULL,
    acknowledged_at       TEXT,
    closed_at             TEXT,
    -- The reporter's certificate, when the report carried one (attached
    -- or in an Autocrypt header) naming their From address.
    reporter_cert         BLOB,
    -- The advisory this case became (advisory new --from-case), whether
    -- the reporter asked not to be credited, and their agreement to the
    -- proposed timeline ('signed' or 'unsigned'); credit is the name the
    -- advisory's exports credit as finder (none when anonymous).
    advisory              TEXT,
    credit                TEXT,
    anonymous             INTEGER NOT NULL DEFAULT 0,
    -- When the timeline the reporter is asked to agree to was proposed: a
    -- signature older than that agrees to an earlier one.
    timeline_at           TEXT,
    agreed_at             TEXT,
    agreed_how            TEXT,
    UNIQUE (list_id, year, number)
);
CREATE INDEX cases_open ON cases (list_id, state, opened_at);

-- Each step of the acknowledgement clock fires once per case: the row is
-- written in the transaction that queues its mail.
CREATE TABLE case_clock (
    case_id   INTEGER NOT NULL REFERENCES cases (id),
    step      TEXT NOT NULL CHECK (step IN ('remind', 'escalate', 'breach')),
    fired_at  TEXT NOT NULL,
    PRIMARY KEY (case_id, step)
);

-- What a case received, each message as ciphertext to the list key alone
-- (never clear text); ref is the stand-in of its Message-ID, so a reply
-- naming it finds the case.
CREATE TABLE case_messages (
    id           INTEGER PRIMARY KEY,
    case_id      INTEGER NOT NULL REFERENCES cases (id),
    received_at  TEXT NOT NULL,
    ref          TEXT,
    sealed       BLOB NOT NULL,
    -- 1: text the reporter was only told of (they had no key): the list's
    -- preface and the message, held until they send a key, then relayed
    -- to them encrypted (and set back to 0).
    withheld     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX case_messages_ref ON case_messages (ref);

-- Those invited into one case (embargo case invite): they hear the
-- case's thread, encrypted to their key, and nothing of any other case.
CREATE TABLE case_participants (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES cases (id),
    email       TEXT NOT NULL,
    email_norm  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    cert        BLOB NOT NULL,
    reason      TEXT NOT NULL,
    invited_by  TEXT NOT NULL,
    invited_at  TEXT NOT NULL,
    UNIQUE (case_id, email_norm)
);

-- Mail to the team list that `embargo ingest` kept for the scheduler to
-- re-seal, one copy per reader (so ingest's work does not grow with the
-- team): the list's preface and the message, encrypted to the list key;
-- emptied in the transaction that queues the copies.
CREATE TABLE relays (
    id          INTEGER PRIMARY KEY,
    list_id     INTEGER NOT NULL REFERENCES lists (id),
    kind        TEXT NOT NULL,
    case_id     INTEGER REFERENCES cases (id),
    readers     TEXT NOT NULL CHECK (readers IN ('team', 'participants', 'reporter')),
    sealed      BLOB,
    created_at  TEXT NOT NULL,
    relayed_at  TEXT
);
CREATE INDEX relays_pending ON relays (list_id, relayed_at, id);
