-- Who still needs a notice is asked of every list's open advisories on
-- every scheduler pass: members by (list, status, id) serve its order and
-- range, copies by (announcement, member) its "has a copy" probe.
CREATE INDEX members_list_status_id ON members (list_id, status, id);
DROP INDEX members_status;
CREATE INDEX deliveries_announcement_member ON deliveries (announcement_id, member_id);
