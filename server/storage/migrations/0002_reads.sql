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
