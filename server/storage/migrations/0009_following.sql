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

-- Members already follow the threads they started or wrote in before this migration.
INSERT INTO follows(user_id, kind, item_id, group_id, following, at)
SELECT author_id, 'thread', thread_id, min(group_id), 1, min(created_at) FROM messages
WHERE author_id IS NOT NULL GROUP BY author_id, thread_id;
