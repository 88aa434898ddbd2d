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
