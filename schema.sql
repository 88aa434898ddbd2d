-- The whole current schema. New databases get this; older ones reach it through
-- server/storage/migrations (a test checks that both give the same tables).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'staff', 'admin')),
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    erased_at     INTEGER
);

CREATE TABLE groups (
    id         INTEGER PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL DEFAULT 'regional' CHECK (kind IN ('regional', 'service', 'network')),
    created_at INTEGER NOT NULL
);

CREATE TABLE memberships (
    group_id  INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role      TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'chair', 'facilitator')),
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX memberships_by_user ON memberships(user_id, group_id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX api_tokens_by_user ON api_tokens(user_id);

CREATE TABLE threads (
    id               INTEGER PRIMARY KEY,
    group_id         INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    title            TEXT NOT NULL,
    author_id        INTEGER REFERENCES users(id),
    created_at       INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL,
    message_count    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX threads_by_activity ON threads(group_id, last_activity_at DESC, id DESC);

CREATE TABLE messages (
    id         INTEGER PRIMARY KEY,
    group_id   INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    thread_id  INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    author_id  INTEGER REFERENCES users(id),
    body       TEXT NOT NULL,
    cid        TEXT,
    seq        INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    edited_at  INTEGER,
    deleted_at INTEGER
);
CREATE INDEX messages_by_thread ON messages(thread_id, id);
CREATE INDEX messages_by_group ON messages(group_id, id);
CREATE UNIQUE INDEX messages_by_cid ON messages(group_id, author_id, cid) WHERE cid IS NOT NULL;

-- A room owns its seq and its replay. Each group has one main room, named on the wire by
-- the group's slug (0005); breakout rooms inside a meeting come later.
CREATE TABLE rooms (
    id         INTEGER PRIMARY KEY,
    group_id   INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    slug       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL DEFAULT 'main' CHECK (kind IN ('main', 'breakout')),
    last_seq   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX rooms_main ON rooms(group_id) WHERE kind = 'main';

-- Every persisted event of a room, in order: the source of resume and replay.
CREATE TABLE events (
    room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    type    TEXT NOT NULL,
    at      INTEGER NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (room_id, seq)
) WITHOUT ROWID;

-- Who did what, for admin and facilitator actions (roles, erasures, removed messages,
-- votes entered on someone's behalf). detail is JSON; never holds an anonymous choice.
CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    actor_id INTEGER REFERENCES users(id),
    action   TEXT NOT NULL,
    group_id INTEGER REFERENCES groups(id) ON DELETE SET NULL,
    subject  TEXT,
    detail   TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_by_time ON audit_log(at);

-- 0002 reads: how far each member has read, per room (thread_id 0) and per thread, so
-- pages can say "new since your last visit" and home can count unread messages.
CREATE TABLE reads (
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id  INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    thread_id INTEGER NOT NULL DEFAULT 0,
    last_read INTEGER NOT NULL DEFAULT 0,
    seen_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, group_id, thread_id)
) WITHOUT ROWID;

-- 0003 polls and ideas: live polls with online, on-behalf and in-room votes; idea boards.
CREATE TABLE polls (
    id           INTEGER PRIMARY KEY,
    group_id     INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    question     TEXT NOT NULL,
    options      TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('single', 'multi')),
    anonymous    INTEGER NOT NULL DEFAULT 0,
    results      TEXT NOT NULL DEFAULT 'live' CHECK (results IN ('live', 'after_vote', 'closed')),
    created_by   INTEGER REFERENCES users(id),
    created_at   INTEGER NOT NULL,
    room_counts  TEXT,
    closed_at    INTEGER,
    closed_by    INTEGER REFERENCES users(id),
    final        TEXT
);
CREATE INDEX polls_by_group ON polls(group_id, id DESC);

-- Who took part (kept for ever); entered_by is set when a facilitator entered the vote.
CREATE TABLE poll_voters (
    poll_id    INTEGER NOT NULL REFERENCES polls(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    entered_by INTEGER REFERENCES users(id),
    voted_at   INTEGER NOT NULL,
    PRIMARY KEY (poll_id, user_id)
) WITHOUT ROWID;

-- Who chose what. For an anonymous poll these rows are deleted when it closes.
CREATE TABLE poll_votes (
    poll_id INTEGER NOT NULL REFERENCES polls(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    choice  INTEGER NOT NULL,
    PRIMARY KEY (poll_id, user_id, choice)
) WITHOUT ROWID;

CREATE TABLE ideas (
    id          INTEGER PRIMARY KEY,
    group_id    INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    author_id   INTEGER REFERENCES users(id),
    cid         TEXT,
    status      TEXT NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'discussing',
                'adopted', 'in_progress', 'done', 'not_taken_forward')),
    thread_id   INTEGER REFERENCES threads(id),
    merged_into INTEGER REFERENCES ideas(id),
    created_at  INTEGER NOT NULL,
    status_at   INTEGER NOT NULL
);
CREATE INDEX ideas_by_group ON ideas(group_id, id DESC);
CREATE UNIQUE INDEX ideas_by_cid ON ideas(group_id, author_id, cid) WHERE cid IS NOT NULL;

CREATE TABLE idea_supporters (
    idea_id INTEGER NOT NULL REFERENCES ideas(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    at      INTEGER NOT NULL,
    PRIMARY KEY (idea_id, user_id)
) WITHOUT ROWID;

-- Each idea's status timeline, oldest first ("you said, we did").
CREATE TABLE idea_status_log (
    id      INTEGER PRIMARY KEY,
    idea_id INTEGER NOT NULL REFERENCES ideas(id) ON DELETE CASCADE,
    status  TEXT NOT NULL,
    note    TEXT NOT NULL DEFAULT '',
    by_id   INTEGER REFERENCES users(id),
    at      INTEGER NOT NULL
);
CREATE INDEX idea_status_log_by_idea ON idea_status_log(idea_id, id);

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
-- 0007 safety (migration 0007_safety.sql): reports and reversible hiding, ground rules, staff-only posts, a display
-- name per group, retention per group, and the optional "About you" answers kept apart
-- from the profile.
ALTER TABLE groups ADD COLUMN ground_rules TEXT NOT NULL DEFAULT '';
ALTER TABLE groups ADD COLUMN retention_months INTEGER CHECK (retention_months IS NULL OR retention_months > 0);
ALTER TABLE messages ADD COLUMN staff_only INTEGER NOT NULL DEFAULT 0;
-- A thread whose first post is staff-only: its title too is for the same few people.
ALTER TABLE threads ADD COLUMN staff_only INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN hidden_at INTEGER;
ALTER TABLE messages ADD COLUMN hidden_reason TEXT;
ALTER TABLE messages ADD COLUMN hidden_role TEXT;

-- The words of a hidden message, kept here (read by moderators only) so hiding can be
-- undone; messages.body is emptied while it is hidden, and so are its events.
CREATE TABLE hidden_messages (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    body       TEXT NOT NULL,
    hidden_by  INTEGER REFERENCES users(id),
    hidden_at  INTEGER NOT NULL
);

-- A member's report of a post, or (kind 'review') an author asking for a hidden post to
-- be looked at again. Who reported is seen by the group's chairs, facilitators and admins.
CREATE TABLE reports (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    group_id    INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    reporter_id INTEGER REFERENCES users(id),
    kind        TEXT NOT NULL DEFAULT 'report' CHECK (kind IN ('report', 'review')),
    reason      TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    resolved_at INTEGER,
    resolved_by INTEGER REFERENCES users(id),
    outcome     TEXT CHECK (outcome IS NULL OR outcome IN ('hidden', 'restored', 'dismissed', 'removed'))
);
CREATE INDEX reports_open ON reports(group_id, resolved_at, id);
CREATE UNIQUE INDEX reports_once ON reports(message_id, reporter_id, kind) WHERE resolved_at IS NULL;

-- Private notes to one member (your post was hidden, and why).
CREATE TABLE notices (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id   INTEGER REFERENCES groups(id) ON DELETE CASCADE,
    message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    read_at    INTEGER
);
CREATE INDEX notices_by_user ON notices(user_id, id);

-- When a member first saw a group's ground rules (shown before their first post).
CREATE TABLE ground_rules_seen (
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    seen_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, group_id)
) WITHOUT ROWID;

-- The name a member goes by in one group, instead of their full name.
CREATE TABLE display_names (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;

-- Optional equality monitoring answers, apart from the profile; never shown in a group.
CREATE TABLE about_you (
    user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    age_band   TEXT,
    disability TEXT,
    ethnicity  TEXT,
    sex        TEXT,
    carer      TEXT,
    updated_at INTEGER NOT NULL
);

-- Each retention run per group: when, up to what time, how many messages went.
CREATE TABLE retention_runs (
    id       INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    ran_at   INTEGER NOT NULL,
    cutoff   INTEGER NOT NULL,
    deleted  INTEGER NOT NULL
);
