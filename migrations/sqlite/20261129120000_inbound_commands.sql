-- Which commands of a signed message were carried out or refused, so a
-- message the MTA retries after a fault (a busy database, a crash)
-- finishes what it started: every command once, never twice, never
-- dropped. A command's row commits with its effect; a refusal's row in its
-- own small transaction; `inbound_signatures` now marks the message
-- complete and is written in the transaction that queues the reply. `line`
-- is what the reply says about the command (identifiers, never embargoed
-- text).
CREATE TABLE inbound_commands (
    signer     TEXT NOT NULL,
    signed_at  TEXT NOT NULL,
    digest     TEXT NOT NULL,
    idx        INTEGER NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('done', 'refused')),
    line       TEXT NOT NULL,
    at         TEXT NOT NULL,
    PRIMARY KEY (signer, signed_at, digest, idx)
);

-- The signing keys of a certificate a member replaced (SET-KEY), with that
-- certificate: they authenticate nothing new, only the retry of a message
-- they signed whose commands were already started (the SET-KEY in it
-- committed before the process stopped), so that message can finish.
CREATE TABLE retired_member_keys (
    fingerprint  TEXT PRIMARY KEY,
    member_id    INTEGER NOT NULL REFERENCES members (id),
    cert         BLOB NOT NULL,
    retired_at   TEXT NOT NULL
);
