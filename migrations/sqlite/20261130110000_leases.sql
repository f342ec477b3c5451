-- Time-based work (the scheduler pass: disclosures, reports, jobs) runs
-- in one daemon at a time per list, even when several daemons share a
-- PostgreSQL database: a daemon takes a list's lease before its pass and
-- renews it with every pass; another takes it over once it has expired.
CREATE TABLE leases (
    list_id  INTEGER NOT NULL REFERENCES lists (id),
    name     TEXT NOT NULL,
    holder   TEXT NOT NULL,
    until    TEXT NOT NULL,
    PRIMARY KEY (list_id, name)
);
