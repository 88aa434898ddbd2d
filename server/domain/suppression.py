"""Small-number suppression: the one rule for when counts drawn from people may be shown.

A count drawn from only a few people can give one of them away (the first voter in a small
group shows as "1 voter, Yes 100%"), so below the threshold ``k`` (the
``privacy_threshold`` setting) a count is shown only as "fewer than k". Anonymous polls and
the participation report both use this module, with that one setting.

Tables are published as *lines*: some parts and the total they add up to (a column of the
participation report: one count per answer, and the count for everyone). In a line:

- **primary suppression**: a part from 1 to k-1 shows as "fewer than k";
- **secondary suppression**: when the shown parts and the total would still let someone
  work out a hidden part exactly (one hidden part and a total; or two hidden parts that
  must both be 1), more parts are hidden ("hidden") until none can, and the total itself
  as a last resort. A hidden part may be capped (a count of people who voted cannot exceed
  the people in that row) and the check takes the caps into account;
- a total from 1 to k-1 shows as "fewer than k", and so does every non-zero part of it;
- a percentage is shown only where both its count and the count it is out of are shown.

Lines of a table share no cells (each count sits in one column's line), so checking each
line exactly is checking the table. ``tests/test_suppression.py`` proves with Hypothesis
that no published line plus its total pins a hidden count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_THRESHOLD = 5  # the default of the `privacy_threshold` setting
MIN_BREAKDOWN = 20  # no breakdown of a meeting's or a poll's people below this many

SHOWN, FEWER, HIDDEN = "shown", "fewer", "hidden"


def counts_shown(people: int, threshold: int) -> bool:
    """True when counts drawn from ``people`` people are safe to show: at least the threshold."""
    return people >= threshold


def breakdown_allowed(people: int) -> bool:
    """A meeting or a poll is broken down (by answer to "About you") only from 20 people."""
    return people >= MIN_BREAKDOWN


@dataclass(frozen=True)
class Cell:
    """One published count: its value only when ``state`` is "shown"."""

    value: int
    state: str
    threshold: int

    @property
    def shown(self) -> bool:
        return self.state == SHOWN

    @property
    def published(self) -> int | None:
        """What a reader is told: the number, or None."""
        return self.value if self.shown else None

    @property
    def text(self) -> str:
        if self.state == SHOWN:
            return str(self.value)
        if self.state == FEWER:
            return f"fewer than {self.threshold}"
        return "hidden"


@dataclass(frozen=True)
class Line:
    """A suppressed line: its parts and its total, as published."""

    parts: tuple[Cell, ...]
    total: Cell


def _domain(state: str, k: int, cap: int) -> range | list[int]:
    """What a reader can tell about a cell from its label (and its cap)."""
    if state == FEWER:
        return range(1, min(k - 1, cap) + 1)
    if state == HIDDEN:
        return [0, *range(k, cap + 1)]
    raise ValueError(state)


def _spread(mask: int, values: range | list[int], limit: int) -> int:
    """Every sum reachable by adding one of ``values`` to a sum in ``mask`` (bits), to limit."""
    out = 0
    for v in values:
        if v > limit:
            break
        out |= mask << v
    return out & ((1 << (limit + 1)) - 1)


def pinned(states: Sequence[str], remainder: int, k: int, caps: Sequence[int]) -> list[bool]:
    """For each hidden part of a line: True when the remainder (total minus shown parts)
    leaves it only one possible value. Parts shown are marked False."""
    hidden = [i for i, s in enumerate(states) if s != SHOWN]
    doms = {i: _domain(states[i], k, caps[i]) for i in hidden}
    out = [False] * len(states)
    if remainder < 0:
        return out
    for i in hidden:
        others = 1
        for j in hidden:
            if j != i:
                others = _spread(others, doms[j], remainder)
        possible = [v for v in doms[i] if v <= remainder and others >> (remainder - v) & 1]
        out[i] = len(possible) <= 1
    return out


def suppress_line(
    parts: Sequence[int], total: int, k: int, caps: Sequence[int | None] | None = None
) -> Line:
    """Publish one line of counts (parts that add up to ``total``) safely for threshold k."""
    if sum(parts) != total:
        raise ValueError("the parts of a line must add up to its total")
    caps_ = [total if c is None else min(c, total) for c in (caps or [None] * len(parts))]
    if 0 < total < k:  # every part is smaller still
        states = [FEWER if p else SHOWN for p in parts]
        return _line(parts, states, total, FEWER, k)
    states = [FEWER if 0 < p < k else SHOWN for p in parts]
    total_state = SHOWN
    while True:
        remainder = total - sum(p for p, s in zip(parts, states, strict=True) if s == SHOWN)
        if not any(
            pin and states[i] == FEWER for i, pin in enumerate(pinned(states, remainder, k, caps_))
        ):
            break
        candidates = [i for i, s in enumerate(states) if s == SHOWN]
        if not candidates:
            total_state = HIDDEN  # nothing left to hide but the total: then nothing adds up
            break
        # Hide the smallest shown part: it costs the reader least. Zeros last, as hiding a
        # zero seldom helps (a hidden part may be 0 or at least k).
        states[min(candidates, key=lambda i: (parts[i] == 0, parts[i], i))] = HIDDEN
    return _line(parts, states, total, total_state, k)


def _line(parts: Sequence[int], states: list[str], total: int, total_state: str, k: int) -> Line:
    return Line(
        tuple(Cell(p, s, k) for p, s in zip(parts, states, strict=True)),
        Cell(total, total_state, k),
    )


def single(count: int, k: int) -> Cell:
    """A count published on its own (no parts): "fewer than k" from 1 to k-1."""
    return Cell(count, FEWER if 0 < count < k else SHOWN, k)


def percentage(part: Cell, whole: Cell) -> str | None:
    """A percentage, only where both its parts are shown; None otherwise."""
    if not (part.shown and whole.shown) or whole.value == 0:
        return None
    return f"{round(100 * part.value / whole.value)}%"
