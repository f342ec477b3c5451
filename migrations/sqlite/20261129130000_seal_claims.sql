-- One process seals an announcement at a time. Sealing is claimed like a
-- delivery: a generation bumped by every claim and a lease deadline, so a
-- process killed mid-seal leaves work another takes over once the lease
-- has expired, and a process whose claim was taken over commits nothing.
ALTER TABLE announcements ADD COLUMN seal_gen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE announcements ADD COLUMN seal_until TEXT;

-- How many copies were encrypted for this announcement and kept: sealing
-- work is counted where it is committed, so work done twice would show.
ALTER TABLE announcements ADD COLUMN sealed_copies INTEGER NOT NULL DEFAULT 0;
