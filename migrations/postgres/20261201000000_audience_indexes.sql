-- Who still needs a notice is asked of every list's open advisories on
-- every scheduler pass. Members by (list, status, id) serve its order and
-- range; without it PostgreSQL walked every list's members by id (8 ms a
-- pass at 100 lists of 100; 0.4 ms with it). Copies by (announcement,
-- member) answer "has this member a copy of it" with one index probe.
CREATE INDEX members_list_status_id ON members (list_id, status, id);
DROP INDEX members_status;
CREATE INDEX deliveries_announcement_member ON deliveries (announcement_id, member_id);
