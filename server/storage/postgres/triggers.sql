-- PostgreSQL versions of the SQLite triggers in schema.sql (those use unixepoch(), and
-- SQLite's trigger bodies are not PostgreSQL's). One trigger per SQLite trigger, same name;
-- tests/test_postgres_engine.py checks the two lists agree.
CREATE FUNCTION cfn_access_change_new_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO access_changes(user_id, at)
    VALUES (NEW.user_id, floor(extract(epoch FROM clock_timestamp()))::bigint * 1000);
    RETURN NULL;
END $$;

CREATE FUNCTION cfn_access_change_old_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO access_changes(user_id, at)
    VALUES (OLD.user_id, floor(extract(epoch FROM clock_timestamp()))::bigint * 1000);
    RETURN NULL;
END $$;

CREATE FUNCTION cfn_access_change_user_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO access_changes(user_id, at)
    VALUES (NEW.id, floor(extract(epoch FROM clock_timestamp()))::bigint * 1000);
    RETURN NULL;
END $$;

CREATE TRIGGER access_change_token AFTER UPDATE OF revoked_at ON api_tokens
FOR EACH ROW WHEN (NEW.revoked_at IS NOT NULL)
EXECUTE FUNCTION cfn_access_change_new_user();

CREATE TRIGGER access_change_token_deleted AFTER DELETE ON api_tokens
FOR EACH ROW EXECUTE FUNCTION cfn_access_change_old_user();

CREATE TRIGGER access_change_session AFTER DELETE ON sessions
FOR EACH ROW EXECUTE FUNCTION cfn_access_change_old_user();

CREATE TRIGGER access_change_membership AFTER DELETE ON memberships
FOR EACH ROW EXECUTE FUNCTION cfn_access_change_old_user();

CREATE TRIGGER access_change_user AFTER UPDATE OF role, erased_at ON users
FOR EACH ROW EXECUTE FUNCTION cfn_access_change_user_row();

-- 0006: a suspension ends the member's live connections as a removal does.
CREATE TRIGGER access_change_suspended AFTER UPDATE OF suspended_at ON users
FOR EACH ROW EXECUTE FUNCTION cfn_access_change_user_row();

-- 0012: a role changed in a group ends staff-only reach on live connections at once.
CREATE TRIGGER access_change_membership_role AFTER UPDATE OF role ON memberships
FOR EACH ROW EXECUTE FUNCTION cfn_access_change_new_user();
