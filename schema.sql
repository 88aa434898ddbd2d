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

-- 0006 people: the account life cycle and the email it rests on. A suspended member
-- cannot log in and their live connections close (the trigger below tells the watcher);
-- a member's text size is shown on every page; a session remembers its browser so the
-- member can recognise it; a group can be archived.
ALTER TABLE users ADD COLUMN suspended_at INTEGER;
ALTER TABLE users ADD COLUMN text_size TEXT NOT NULL DEFAULT 'normal'
    CHECK (text_size IN ('normal', 'large', 'larger'));
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE groups ADD COLUMN archived_at INTEGER;

CREATE TRIGGER access_change_suspended AFTER UPDATE OF suspended_at ON users
BEGIN
    INSERT INTO access_changes(user_id, at) VALUES (new.id, unixepoch() * 1000);
END;

-- The transactional outbox: an email is a row written in the transaction of the action
-- that causes it; the sender task delivers it after commit. status: pending (waiting for
-- next_attempt_at), sending (claimed until lease_until; a crash leaves it to be claimed
-- again and sent with the same Message-ID), sent, failed (last_error says why). context
-- (JSON for the template) holds the link until the email is sent or given up, then is
-- emptied, so a used database keeps no live link.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    to_address      TEXT NOT NULL,
    user_id         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    subject         TEXT NOT NULL,
    template        TEXT NOT NULL,
    context         TEXT NOT NULL DEFAULT '{}',
    dedupe_key      TEXT UNIQUE,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_by_user ON outbox(user_id);

-- Single-use links: an invitation (email, group, role), a password reset, an email change
-- (email is the new address). Only the token's SHA-256 is stored. A new one for the same
-- purpose and address withdraws the old.
CREATE TABLE account_tokens (
    id           INTEGER PRIMARY KEY,
    purpose      TEXT NOT NULL CHECK (purpose IN ('invite', 'reset', 'email')),
    token_hash   TEXT NOT NULL UNIQUE,
    email        TEXT NOT NULL COLLATE NOCASE,
    user_id      INTEGER REFERENCES users(id) ON DELETE CASCADE,
    group_id     INTEGER REFERENCES groups(id) ON DELETE CASCADE,
    group_role   TEXT CHECK (group_role IN ('member', 'chair', 'facilitator')),
    created_by   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    withdrawn_at INTEGER
);
CREATE INDEX account_tokens_by_email ON account_tokens(purpose, email);
CREATE INDEX account_tokens_by_user ON account_tokens(user_id);

-- How a member wants meeting papers and what support they need (read by meetings).
CREATE TABLE member_needs (
    user_id          INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    papers           TEXT NOT NULL DEFAULT 'screen'
                     CHECK (papers IN ('screen', 'large_print', 'easy_read', 'post')),
    support_person   INTEGER NOT NULL DEFAULT 0,
    no_time_pressure INTEGER NOT NULL DEFAULT 0,
    bsl              INTEGER NOT NULL DEFAULT 0,
    other            TEXT NOT NULL DEFAULT '',
    updated_at       INTEGER NOT NULL
);

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

-- 0008 meetings: a group's meeting as one object, from the call for agenda items through
-- the live meeting to the catch-up pack, the minutes and the actions afterwards.
-- Times are Unix ms (UTC); pages show them in UK local time.
CREATE TABLE meetings (
    id           INTEGER PRIMARY KEY,
    group_id     INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    starts_at    INTEGER NOT NULL,
    mode         TEXT NOT NULL CHECK (mode IN ('in_person', 'online', 'hybrid', 'phone')),
    place        TEXT NOT NULL DEFAULT '',
    step_free    INTEGER NOT NULL DEFAULT 0,
    hearing_loop INTEGER NOT NULL DEFAULT 0,
    parking      INTEGER NOT NULL DEFAULT 0,
    join_online  TEXT NOT NULL DEFAULT '',
    join_phone   TEXT NOT NULL DEFAULT '',
    papers_due   INTEGER,
    published_at INTEGER,
    started_at   INTEGER,
    current_item INTEGER,
    item_at      INTEGER,
    ended_at     INTEGER,
    approved_by  INTEGER REFERENCES users(id),
    approved_at  INTEGER,
    created_by   INTEGER REFERENCES users(id),
    created_at   INTEGER NOT NULL
);
CREATE INDEX meetings_by_group ON meetings(group_id, starts_at);
CREATE INDEX meetings_live ON meetings(group_id) WHERE started_at IS NOT NULL AND ended_at IS NULL;

-- Proposed, accepted or declined items; position orders the accepted ones.
CREATE TABLE agenda_items (
    id             INTEGER PRIMARY KEY,
    meeting_id     INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    title          TEXT NOT NULL,
    summary        TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('information', 'discussion', 'decision')),
    status         TEXT NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'accepted',
                   'declined')),
    decline_reason TEXT NOT NULL DEFAULT '',
    position       INTEGER NOT NULL DEFAULT 0,
    proposed_by    INTEGER REFERENCES users(id),
    idea_id        INTEGER REFERENCES ideas(id),
    opened_at      INTEGER,
    closed_at      INTEGER,
    outcome        TEXT CHECK (outcome IN ('decided', 'discussed', 'noted', 'deferred')),
    outcome_note   TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL
);
CREATE INDEX agenda_items_by_meeting ON agenda_items(meeting_id, position, id);

CREATE TABLE agenda_supporters (
    item_id INTEGER NOT NULL REFERENCES agenda_items(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    at      INTEGER NOT NULL,
    PRIMARY KEY (item_id, user_id)
) WITHOUT ROWID;

-- Papers: text attached to an item; one added after the meeting's papers_due is late.
CREATE TABLE meeting_papers (
    id       INTEGER PRIMARY KEY,
    item_id  INTEGER NOT NULL REFERENCES agenda_items(id) ON DELETE CASCADE,
    title    TEXT NOT NULL,
    body     TEXT NOT NULL,
    added_by INTEGER REFERENCES users(id),
    added_at INTEGER NOT NULL
);
CREATE INDEX meeting_papers_by_item ON meeting_papers(item_id, id);

-- Each member's reply: how they will come, and only the needs they chose to give for this
-- meeting (papers format, support). Seen by the member, the chair and the facilitator.
-- Never anything about payment.
CREATE TABLE meeting_replies (
    meeting_id    INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    attending     TEXT NOT NULL CHECK (attending IN ('in_person', 'online', 'phone',
                  'cant_come')),
    papers_format TEXT CHECK (papers_format IN ('screen', 'large_print', 'easy_read', 'post')),
    support       TEXT NOT NULL DEFAULT '',
    listed        INTEGER NOT NULL DEFAULT 0,
    replied_at    INTEGER NOT NULL,
    PRIMARY KEY (meeting_id, user_id)
) WITHOUT ROWID;

-- Views sent in before the meeting by members who cannot come, per item.
CREATE TABLE meeting_views (
    id         INTEGER PRIMARY KEY,
    item_id    INTEGER NOT NULL REFERENCES agenda_items(id) ON DELETE CASCADE,
    user_id    INTEGER REFERENCES users(id),
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX meeting_views_by_item ON meeting_views(item_id, id);

-- Who took part and how: online joins are recorded from the room, the rest are ticked by
-- the facilitator (marked_by; every mark is in the audit log too). came_in_person tells
-- the service's own expenses process who to reimburse: no amounts, no bank details.
CREATE TABLE meeting_attendance (
    meeting_id     INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users(id),
    mode           TEXT NOT NULL CHECK (mode IN ('online', 'in_room', 'phone')),
    joined_at      INTEGER NOT NULL,
    marked_by      INTEGER REFERENCES users(id),
    came_in_person INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (meeting_id, user_id)
) WITHOUT ROWID;

-- What an item led to: who does what by when.
CREATE TABLE meeting_actions (
    id         INTEGER PRIMARY KEY,
    item_id    INTEGER NOT NULL REFERENCES agenda_items(id) ON DELETE CASCADE,
    what       TEXT NOT NULL,
    owner_id   INTEGER REFERENCES users(id),
    due_at     INTEGER NOT NULL,
    done_at    INTEGER,
    created_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL
);
CREATE INDEX meeting_actions_by_item ON meeting_actions(item_id, id);

-- Messages, polls and ideas that belong to an item: links to the real rows, not copies.
-- Messages are linked in the transaction that posts them, while the item is open.
CREATE TABLE meeting_item_messages (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    item_id    INTEGER NOT NULL REFERENCES agenda_items(id) ON DELETE CASCADE
);
CREATE INDEX meeting_item_messages_by_item ON meeting_item_messages(item_id, message_id);

CREATE TABLE meeting_item_polls (
    poll_id INTEGER PRIMARY KEY REFERENCES polls(id) ON DELETE CASCADE,
    item_id INTEGER NOT NULL REFERENCES agenda_items(id) ON DELETE CASCADE
);
CREATE INDEX meeting_item_polls_by_item ON meeting_item_polls(item_id);

CREATE TABLE meeting_item_ideas (
    idea_id INTEGER PRIMARY KEY REFERENCES ideas(id) ON DELETE CASCADE,
    item_id INTEGER NOT NULL REFERENCES agenda_items(id) ON DELETE CASCADE
);
CREATE INDEX meeting_item_ideas_by_item ON meeting_item_ideas(item_id);

-- The minutes: comments while they are a draft, dated corrections once approved (locked).
CREATE TABLE minutes_notes (
    id         INTEGER PRIMARY KEY,
    meeting_id INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    item_id    INTEGER REFERENCES agenda_items(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('comment', 'correction')),
    user_id    INTEGER REFERENCES users(id),
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX minutes_notes_by_meeting ON minutes_notes(meeting_id, id);

-- 0009 following: what each member follows (a thread they started or replied to, or any
-- thread, poll or idea by hand), how much each group tells them, and which inbox entries
-- they marked read. A thread's read mark stays in reads; the rest are marked here.
-- following = 0 keeps a deliberate unfollow, so a later reply does not follow it again.
CREATE TABLE follows (
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL CHECK (kind IN ('thread', 'poll', 'idea')),
    item_id   INTEGER NOT NULL,
    group_id  INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    following INTEGER NOT NULL DEFAULT 1,
    at        INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind, item_id)
) WITHOUT ROWID;
CREATE INDEX follows_by_group ON follows(user_id, group_id);

-- One row per member and group that is not the default ('followed').
CREATE TABLE follow_levels (
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    level    TEXT NOT NULL CHECK (level IN ('everything', 'followed', 'nothing')),
    at       INTEGER NOT NULL,
    PRIMARY KEY (user_id, group_id)
) WITHOUT ROWID;

-- Inbox entries other than threads ('poll:7', 'idea:3', 'meeting:2'): read up to read_at.
CREATE TABLE inbox_reads (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key     TEXT NOT NULL,
    read_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
) WITHOUT ROWID;

-- The inbox counts each followed thread's unread messages from this index alone (no row
-- reads): the columns its filters need (docs/performance.md, the inbox scenario).
CREATE INDEX messages_unread ON messages(thread_id, id, author_id, created_at, staff_only,
    deleted_at, hidden_at);

-- Members already follow the threads they started or wrote in before this migration.
INSERT INTO follows(user_id, kind, item_id, group_id, following, at)
SELECT author_id, 'thread', thread_id, min(group_id), 1, min(created_at) FROM messages
WHERE author_id IS NOT NULL GROUP BY author_id, thread_id;
-- sqlite-only:begin 0010_search.sql (PostgreSQL: storage/postgres/migrations/0010_search.sql)
-- 0010 search: one full-text index (SQLite FTS5) over what members write: thread titles,
-- messages, polls (question and options), ideas (title and text), meetings (title) and
-- agenda items (title and summary). Only what may be shown is in it: a deleted, hidden or
-- retention-deleted message leaves it, an edit replaces it, all by the triggers below, in
-- the transaction that made the change. PostgreSQL has its own version of this step
-- (storage/postgres/migrations/0010_search.sql: GIN indexes on tsvectors, no copy).
-- rowid = kind * 2^40 + the row's id (kinds: 1 message, 2 thread, 3 poll, 4 idea,
-- 5 meeting, 6 agenda item), so the newest messages come last in rowid order and the few
-- threads, polls, ideas and meetings after them. scope holds access tokens matched by the
-- query, never shown: g<group>, u<author>, and for a staff-only post "staffonly" with
-- sa<id> for each person who may read it anyway (its author, the staff-only thread's).
CREATE VIRTUAL TABLE search_index USING fts5(
    title, body, scope, at UNINDEXED,
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER search_message_insert AFTER INSERT ON messages
WHEN new.deleted_at IS NULL AND new.hidden_at IS NULL AND new.body <> ''
BEGIN
    INSERT INTO search_index(rowid, title, body, scope, at) VALUES (
        1099511627776 + new.id, '', new.body,
        'g' || new.group_id || ' u' || coalesce(new.author_id, 0) || CASE WHEN new.staff_only
        THEN ' staffonly sa' || coalesce(new.author_id, 0) || coalesce((SELECT ' sa' ||
        t.author_id FROM threads t WHERE t.id = new.thread_id AND t.staff_only = 1), '')
        ELSE '' END,
        new.created_at);
END;

CREATE TRIGGER search_message_update AFTER UPDATE OF body, deleted_at, hidden_at, staff_only,
created_at
ON messages
BEGIN
    DELETE FROM search_index WHERE rowid = 1099511627776 + old.id;
    INSERT INTO search_index(rowid, title, body, scope, at) SELECT
        1099511627776 + new.id, '', new.body,
        'g' || new.group_id || ' u' || coalesce(new.author_id, 0) || CASE WHEN new.staff_only
        THEN ' staffonly sa' || coalesce(new.author_id, 0) || coalesce((SELECT ' sa' ||
        t.author_id FROM threads t WHERE t.id = new.thread_id AND t.staff_only = 1), '')
        ELSE '' END,
        new.created_at
    WHERE new.deleted_at IS NULL AND new.hidden_at IS NULL AND new.body <> '';
END;

CREATE TRIGGER search_message_delete AFTER DELETE ON messages
BEGIN
    DELETE FROM search_index WHERE rowid = 1099511627776 + old.id;
END;

CREATE TRIGGER search_thread_insert AFTER INSERT ON threads
BEGIN
    INSERT INTO search_index(rowid, title, body, scope, at) VALUES (
        2199023255552 + new.id, new.title, '',
        'g' || new.group_id || ' u' || coalesce(new.author_id, 0) || CASE WHEN new.staff_only
        THEN ' staffonly sa' || coalesce(new.author_id, 0) ELSE '' END,
        new.created_at);
END;

CREATE TRIGGER search_thread_update AFTER UPDATE OF title, staff_only ON threads
BEGIN
    DELETE FROM search_index WHERE rowid = 2199023255552 + old.id;
    INSERT INTO search_index(rowid, title, body, scope, at) VALUES (
        2199023255552 + new.id, new.title, '',
        'g' || new.group_id || ' u' || coalesce(new.author_id, 0) || CASE WHEN new.staff_only
        THEN ' staffonly sa' || coalesce(new.author_id, 0) ELSE '' END,
        new.created_at);
END;

CREATE TRIGGER search_thread_delete AFTER DELETE ON threads
BEGIN
    DELETE FROM search_index WHERE rowid = 2199023255552 + old.id;
END;

CREATE TRIGGER search_poll_insert AFTER INSERT ON polls
BEGIN
    INSERT INTO search_index(rowid, title, body, scope, at) VALUES (
        3298534883328 + new.id, new.question,
        coalesce((SELECT group_concat(value, ' · ') FROM json_each(new.options)), ''),
        'g' || new.group_id || ' u' || coalesce(new.created_by, 0), new.created_at);
END;

CREATE TRIGGER search_poll_update AFTER UPDATE OF question, options ON polls
BEGIN
    DELETE FROM search_index WHERE rowid = 3298534883328 + old.id;
    INSERT INTO search_index(rowid, title, body, scope, at) VALUES (
        3298534883328 + new.id, new.question,
        coalesce((SELECT group_concat(value, ' · ') FROM json_each(new.options)), ''),
        'g' || new.group_id || ' u' || coalesce(new.created_by, 0), new.created_at);
END;

CREATE TRIGGER search_poll_delete AFTER DELETE ON polls
BEGIN
    DELETE FROM search_index WHERE rowid = 3298534883328 + old.id;
END;

CREATE TRIGGER search_idea_insert AFTER INSERT ON ideas
BEGIN
    INSERT INTO search_index(rowid, title, body, scope, at) VALUES (
        4398046511104 + new.id, new.title, new.body,
        'g' || new.group_id || ' u' || coalesce(new.author_id, 0), new.created_at);
END;

CREATE TRIGGER search_idea_update AFTER UPDATE OF title, body ON ideas
BEGIN
    DELETE FROM search_index WHERE rowid = 4398046511104 + old.id;
    INSERT INTO search_index(rowid, title, body, scope, at) VALUES (
        4398046511104 + new.id, new.title, new.body,
        'g' || new.group_id || ' u' || coalesce(new.author_id, 0), new.created_at);
END;

CREATE TRIGGER search_idea_delete AFTER DELETE ON ideas
BEGIN
    DELETE FROM search_index WHERE rowid = 4398046511104 + old.id;
END;

CREATE TRIGGER search_meeting_insert AFTER INSERT ON meetings
BEGIN
    INSERT INTO search_index(rowid, title, body, scope, at) VALUES (
        5497558138880 + new.id, new.title, '',
        'g' || new.group_id || ' u' || coalesce(new.created_by, 0), new.starts_at);
END;

CREATE TRIGGER search_meeting_update AFTER UPDATE OF title, starts_at ON meetings
BEGIN
    DELETE FROM search_index WHERE rowid = 5497558138880 + old.id;
    INSERT INTO search_index(rowid, title, body, scope, at) VALUES (
        5497558138880 + new.id, new.title, '',
        'g' || new.group_id || ' u' || coalesce(new.created_by, 0), new.starts_at);
END;

CREATE TRIGGER search_meeting_delete AFTER DELETE ON meetings
BEGIN
    DELETE FROM search_index WHERE rowid = 5497558138880 + old.id;
END;

CREATE TRIGGER search_agenda_insert AFTER INSERT ON agenda_items
BEGIN
    INSERT INTO search_index(rowid, title, body, scope, at) SELECT
        6597069766656 + new.id, new.title, new.summary,
        'g' || m.group_id || ' u' || coalesce(new.proposed_by, 0), new.created_at
    FROM meetings m WHERE m.id = new.meeting_id;
END;

CREATE TRIGGER search_agenda_update AFTER UPDATE OF title, summary ON agenda_items
BEGIN
    DELETE FROM search_index WHERE rowid = 6597069766656 + old.id;
    INSERT INTO search_index(rowid, title, body, scope, at) SELECT
        6597069766656 + new.id, new.title, new.summary,
        'g' || m.group_id || ' u' || coalesce(new.proposed_by, 0), new.created_at
    FROM meetings m WHERE m.id = new.meeting_id;
END;

CREATE TRIGGER search_agenda_delete AFTER DELETE ON agenda_items
BEGIN
    DELETE FROM search_index WHERE rowid = 6597069766656 + old.id;
END;

-- What was written before this step.
INSERT INTO search_index(rowid, title, body, scope, at)
SELECT 2199023255552 + t.id, t.title, '',
    'g' || t.group_id || ' u' || coalesce(t.author_id, 0) || CASE WHEN t.staff_only
    THEN ' staffonly sa' || coalesce(t.author_id, 0) ELSE '' END, t.created_at
FROM threads t;
INSERT INTO search_index(rowid, title, body, scope, at)
SELECT 1099511627776 + m.id, '', m.body,
    'g' || m.group_id || ' u' || coalesce(m.author_id, 0) || CASE WHEN m.staff_only
    THEN ' staffonly sa' || coalesce(m.author_id, 0) || coalesce((SELECT ' sa' ||
    t.author_id FROM threads t WHERE t.id = m.thread_id AND t.staff_only = 1), '')
    ELSE '' END, m.created_at
FROM messages m WHERE m.deleted_at IS NULL AND m.hidden_at IS NULL AND m.body <> '';
INSERT INTO search_index(rowid, title, body, scope, at)
SELECT 3298534883328 + p.id, p.question,
    coalesce((SELECT group_concat(value, ' · ') FROM json_each(p.options)), ''),
    'g' || p.group_id || ' u' || coalesce(p.created_by, 0), p.created_at
FROM polls p;
INSERT INTO search_index(rowid, title, body, scope, at)
SELECT 4398046511104 + i.id, i.title, i.body,
    'g' || i.group_id || ' u' || coalesce(i.author_id, 0), i.created_at
FROM ideas i;
INSERT INTO search_index(rowid, title, body, scope, at)
SELECT 5497558138880 + m.id, m.title, '',
    'g' || m.group_id || ' u' || coalesce(m.created_by, 0), m.starts_at
FROM meetings m;
INSERT INTO search_index(rowid, title, body, scope, at)
SELECT 6597069766656 + a.id, a.title, a.summary,
    'g' || m.group_id || ' u' || coalesce(a.proposed_by, 0), a.created_at
FROM agenda_items a JOIN meetings m ON m.id = a.meeting_id;
-- sqlite-only:end

-- 0011 email settings (server/storage/migrations/0011_email_prefs.sql)
-- No row in email_prefs means the member has not chosen: nothing is sent (people added
-- by the command line); accepting an email invitation writes the quiet defaults below.
CREATE TABLE email_prefs (
    user_id         INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    digest          TEXT NOT NULL DEFAULT 'weekly'
                    CHECK (digest IN ('never', 'meeting', 'daily', 'weekly')),
    on_reply        INTEGER NOT NULL DEFAULT 0,
    on_poll         INTEGER NOT NULL DEFAULT 0,
    on_meeting      INTEGER NOT NULL DEFAULT 1,
    time_zone       TEXT NOT NULL DEFAULT 'Europe/London',
    last_digest_at  INTEGER,
    last_period     TEXT,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE email_unsubscribe (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    list       TEXT NOT NULL CHECK (list IN ('digest', 'reply', 'poll', 'meeting')),
    created_at INTEGER NOT NULL
);
CREATE INDEX email_unsubscribe_by_user ON email_unsubscribe(user_id);

CREATE TABLE email_no_text_groups (
    group_id INTEGER PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
    set_by   INTEGER REFERENCES users(id),
    set_at   INTEGER NOT NULL
);

CREATE TABLE scheduler_cursors (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

-- 0012 role changes: a member's role in a group changing tells the access watcher too, so
-- a live connection stops receiving the group's staff-only posts at once.
CREATE TRIGGER access_change_membership_role AFTER UPDATE OF role ON memberships
BEGIN
    INSERT INTO access_changes(user_id, at) VALUES (new.user_id, unixepoch() * 1000);
END;

-- 0013 polls may close on their own: an optional closing time (Unix ms, UTC) that the
-- scheduler acts on (closing the poll as a facilitator would, once), and from which
-- members who asked are emailed the day before if they have not voted.
ALTER TABLE polls ADD COLUMN closes_at INTEGER;
CREATE INDEX polls_closing ON polls(closes_at) WHERE closes_at IS NOT NULL AND closed_at IS NULL;
