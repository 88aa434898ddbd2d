-- 0011 email settings: each member's digest and immediate-email choices, the one-click
-- unsubscribe tokens (stored hashed), the groups whose emails never carry message text,
-- and the scheduler's cursors. Times are Unix ms (UTC).
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
