"""Tagging what is posted while a meeting item is open: a message, a poll or an idea
created in a group whose meeting is running belongs to the item then open.

Kept apart from ``meetings.py`` so that discussions, polls and ideas can call it inside
their own write (the same transaction as the post) without importing the meeting rules.
"""

from __future__ import annotations

from server.storage import Tx

_OPEN_ITEM = (
    "SELECT current_item FROM meetings WHERE group_id = ? AND started_at IS NOT NULL"
    " AND ended_at IS NULL AND current_item IS NOT NULL"
)


def open_item(tx: Tx, group_id: int) -> int | None:
    """The item being discussed now in this group's running meeting, if any."""
    row = tx.one(_OPEN_ITEM, (group_id,))
    return None if row is None else int(row[0])


def tag_message(tx: Tx, group_id: int, message_id: int) -> int | None:
    item = open_item(tx, group_id)
    if item is not None:
        tx.execute(
            "INSERT INTO meeting_item_messages(message_id, item_id) VALUES (?, ?)",
            (message_id, item),
        )
    return item


def tag_poll(tx: Tx, group_id: int, poll_id: int) -> int | None:
    item = open_item(tx, group_id)
    if item is not None:
        tx.execute(
            "INSERT INTO meeting_item_polls(poll_id, item_id) VALUES (?, ?)", (poll_id, item)
        )
    return item


def tag_idea(tx: Tx, group_id: int, idea_id: int) -> int | None:
    item = open_item(tx, group_id)
    if item is not None:
        tx.execute(
            "INSERT INTO meeting_item_ideas(idea_id, item_id) VALUES (?, ?)", (idea_id, item)
        )
    return item
