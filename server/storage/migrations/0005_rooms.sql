-- 0005 rooms: a room owns its seq and its replay, so a meeting's breakout rooms can have
-- their own later. Each group has one main room, named on the wire by the group's slug;
-- its events and seq move here from the group.
CREATE TABLE rooms (
    id         INTEGER PRIMARY KEY,
    group_id   INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    slug       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL DEFAULT 'main' CHECK (kind IN ('main', 'breakout')),
    last_seq   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX rooms_main ON rooms(group_id) WHERE kind = 'main';

INSERT INTO rooms(id, group_id, slug, kind, last_seq, created_at)
SELECT id, id, slug, 'main', last_seq, created_at FROM groups;

CREATE TABLE room_events (
    room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    type    TEXT NOT NULL,
    at      INTEGER NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (room_id, seq)
) WITHOUT ROWID;

INSERT INTO room_events(room_id, seq, type, at, data)
SELECT group_id, seq, type, at, data FROM events;

DROP TABLE events;
ALTER TABLE room_events RENAME TO events;
ALTER TABLE groups DROP COLUMN last_seq;
