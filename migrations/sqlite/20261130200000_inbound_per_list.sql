-- The replay record of signed mail is per list. `lists` gave these tables
-- `list_id` but kept their keys instance-wide, so one signed message
-- addressed to two lists (its signed To: names both request addresses)
-- was carried out on the first and dropped by the second as "already
-- used". A message is now used once on each list it names.
--
-- SQLite cannot change a primary key, so both tables are rebuilt.

CREATE TABLE inbound_signatures_new (
    list_id      INTEGER NOT NULL REFERENCES lists (id),
    signer       TEXT NOT NULL,
    signed_at    TEXT NOT NULL,
    digest       TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    PRIMARY KEY (list_id, signer, signed_at, digest)
);
INSERT INTO inbound_signatures_new (list_id, signer, signed_at, digest, received_at)
SELECT list_id, signer, signed_at, digest, received_at FROM inbound_signatures;
DROP TABLE inbound_signatures;
ALTER TABLE inbound_signatures_new RENAME TO inbound_signatures;

CREATE TABLE inbound_commands_new (
    list_id    INTEGER NOT NULL REFERENCES lists (id),
    signer     TEXT NOT NULL,
    signed_at  TEXT NOT NULL,
    digest     TEXT NOT NULL,
    idx        INTEGER NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('done', 'refused')),
    line       TEXT NOT NULL,
    at         TEXT NOT NULL,
    PRIMARY KEY (list_id, signer, signed_at, digest, idx)
);
INSERT INTO inbound_commands_new (list_id, signer, signed_at, digest, idx, outcome, line, at)
SELECT list_id, signer, signed_at, digest, idx, outcome, line, at FROM inbound_commands;
DROP TABLE inbound_commands;
ALTER TABLE inbound_commands_new RENAME TO inbound_commands;
