-- 0007 safety: reports and reversible hiding, ground rules, staff-only posts, a display
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
