-- Each member row carries its own listing entry as JSON, kept up to date by
-- triggers, so `member list --json` on a roster of thousands is one ordered
-- concatenation instead of building JSON for every member at read time.
-- The object must match how the roster module serialises MemberSummary;
-- a test compares the two.

ALTER TABLE members ADD COLUMN summary TEXT NOT NULL DEFAULT '{}';

CREATE TRIGGER members_summary_after_insert AFTER INSERT ON members
BEGIN
    UPDATE members SET summary = json_object(
        'email', NEW.email,
        'name', NEW.name,
        'org', NEW.org,
        'kind', NEW.kind,
        'roles', json('["' || replace(NEW.roles, ',', '","') || '"]'),
        'status', NEW.status,
        'fingerprint', NEW.fingerprint,
        'sponsor', (SELECT s.email FROM members s WHERE s.id = NEW.sponsor_id),
        'needs_sponsor', json(CASE NEW.needs_sponsor WHEN 1 THEN 'true' ELSE 'false' END)
    ) WHERE id = NEW.id;
END;

CREATE TRIGGER members_summary_after_update
AFTER UPDATE OF email, name, org, kind, roles, status, fingerprint, sponsor_id, needs_sponsor ON members
BEGIN
    UPDATE members SET summary = json_object(
        'email', NEW.email,
        'name', NEW.name,
        'org', NEW.org,
        'kind', NEW.kind,
        'roles', json('["' || replace(NEW.roles, ',', '","') || '"]'),
        'status', NEW.status,
        'fingerprint', NEW.fingerprint,
        'sponsor', (SELECT s.email FROM members s WHERE s.id = NEW.sponsor_id),
        'needs_sponsor', json(CASE NEW.needs_sponsor WHEN 1 THEN 'true' ELSE 'false' END)
    ) WHERE id = NEW.id;
END;

-- Rows that existed before this migration.
UPDATE members SET roles = roles;
