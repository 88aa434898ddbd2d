-- 0010 search, for PostgreSQL: SQLite keeps a copy of the text in an FTS5 table kept in
-- step by triggers; here each searchable table gets a GIN index on the tsvector of its
-- words instead, so there is nothing to keep in step: a deleted, hidden, erased or edited
-- post is out of (or updated in) the index by the same statement that changed it.
-- storage/postgres/search.py queries these very expressions (they must match to be used).
CREATE INDEX messages_search ON messages
    USING GIN (to_tsvector('english'::regconfig, body))
    WHERE deleted_at IS NULL AND hidden_at IS NULL;
CREATE INDEX threads_search ON threads USING GIN (to_tsvector('english'::regconfig, title));
CREATE INDEX polls_search ON polls
    USING GIN (to_tsvector('english'::regconfig, question || ' ' || options));
CREATE INDEX ideas_search ON ideas
    USING GIN (to_tsvector('english'::regconfig, title || ' ' || body));
CREATE INDEX meetings_search ON meetings USING GIN (to_tsvector('english'::regconfig, title));
CREATE INDEX agenda_items_search ON agenda_items
    USING GIN (to_tsvector('english'::regconfig, title || ' ' || summary));
