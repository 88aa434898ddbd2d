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
