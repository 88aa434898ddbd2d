-- 0012 role changes: a member's role in a group changing (say, a facilitator made an
-- ordinary member again) tells the access watcher too, so a live connection stops
-- receiving the group's staff-only posts at once, not only at its next join.
CREATE TRIGGER access_change_membership_role AFTER UPDATE OF role ON memberships
BEGIN
    INSERT INTO access_changes(user_id, at) VALUES (new.user_id, unixepoch() * 1000);
END;
