-- 0012 role changes, for PostgreSQL: server/storage/migrations/0012_role_changes.sql with
-- its trigger written as PostgreSQL's (as in triggers.sql).
CREATE TRIGGER access_change_membership_role AFTER UPDATE OF role ON memberships
FOR EACH ROW EXECUTE FUNCTION cfn_access_change_new_user();
