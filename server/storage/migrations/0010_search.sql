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
