-- 0013 polls may close on their own: an optional closing time (Unix ms, UTC) that the
-- scheduler acts on (closing the poll as a facilitator would, once), and from which
-- members who asked are emailed the day before if they have not voted.
ALTER TABLE polls ADD COLUMN closes_at INTEGER;
CREATE INDEX polls_closing ON polls(closes_at) WHERE closes_at IS NOT NULL AND closed_at IS NULL;
