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
