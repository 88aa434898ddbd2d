-- 0004 access changes: every change that can take access away from a member (a token
-- revoked, a session ended, a membership removed, an account erased or its role changed)
-- leaves a row here, whoever made it (the server or the command line), so the running
-- server can end that member's live connections and subscriptions within a second.
CREATE TABLE access_changes (
    id      INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    at      INTEGER NOT NULL
);

CREATE TRIGGER access_change_token AFTER UPDATE OF revoked_at ON api_tokens
WHEN new.revoked_at IS NOT NULL
BEGIN
    INSERT INTO access_changes(user_id, at) VALUES (new.user_id, unixepoch() * 1000);
END;

CREATE TRIGGER access_change_token_deleted AFTER DELETE ON api_tokens
BEGIN
    INSERT INTO access_changes(user_id, at) VALUES (old.user_id, unixepoch() * 1000);
END;

CREATE TRIGGER access_change_session AFTER DELETE ON sessions
BEGIN
    INSERT INTO access_changes(user_id, at) VALUES (old.user_id, unixepoch() * 1000);
END;

CREATE TRIGGER access_change_membership AFTER DELETE ON memberships
BEGIN
    INSERT INTO access_changes(user_id, at) VALUES (old.user_id, unixepoch() * 1000);
END;

CREATE TRIGGER access_change_user AFTER UPDATE OF role, erased_at ON users
BEGIN
    INSERT INTO access_changes(user_id, at) VALUES (new.id, unixepoch() * 1000);
END;
