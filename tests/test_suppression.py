"""Small-number suppression: no published line plus its total reveals a count below k.

The checker here is written apart from the module's own (plain sets of possible values,
no bit tricks): from what a reader is shown (numbers, "fewer than k", "hidden", the
total) it lists every value each hidden count could have, and fails if any count below k
has only one.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain import suppression
from server.domain.suppression import Line, percentage, single, suppress_line


def _reader_options(line: Line, k: int, caps: list[int | None]) -> list[set[int]]:
    """Every value each part could have, to a reader who sees only the published line."""
    big = 60 * k  # beyond any line the strategies draw
    if line.total.shown:
        totals = {line.total.value}
    elif line.total.state == "fewer":
        totals = set(range(1, k))
    else:
        totals = {0} | set(range(k, big))
    top_total = max(totals)
    options: list[set[int]] = []
    for cell, cap in zip(line.parts, caps, strict=True):
        top = top_total if cap is None else min(cap, top_total)
        if cell.shown:
            options.append({cell.value})
        elif cell.state == "fewer":
            options.append({v for v in range(1, k) if v <= top})
        else:
            options.append({0} | {v for v in range(k, top + 1)})
    # Keep only the values that some choice of the other parts completes to a total the
    # reader cannot rule out.
    possible: list[set[int]] = []
    for i, mine in enumerate(options):
        sums = {0}
        for j, theirs in enumerate(options):
            if j != i:
                sums = {s + v for s in sums for v in theirs if s + v <= top_total}
        possible.append({v for v in mine if any(t - v in sums for t in totals)})
    return possible


lines = st.integers(min_value=5, max_value=10).flatmap(
    lambda k: st.tuples(
        st.just(k),
        st.lists(st.integers(min_value=0, max_value=3 * k), min_size=1, max_size=6),
    )
)


@settings(max_examples=400, deadline=None)
@given(lines)
def test_no_published_line_and_total_reveal_a_count_below_k(case: tuple[int, list[int]]) -> None:
    k, parts = case
    line = suppress_line(parts, sum(parts), k)
    options = _reader_options(line, k, [None] * len(parts))
    for cell, could_be in zip(line.parts, options, strict=True):
        assert cell.value in could_be  # the checker is honest about the truth
        if 0 < cell.value < k:
            assert not cell.shown, "a count below k was printed"
            assert len(could_be) > 1, f"{parts} published as {line} pins {cell.value}"
    if 0 < line.total.value < k:
        assert not line.total.shown


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=5, max_value=10).flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.lists(
                st.tuples(st.integers(0, 3 * k), st.integers(0, 3 * k)), min_size=1, max_size=5
            ),
        )
    )
)
def test_caps_from_shown_row_sizes_do_not_pin_a_hidden_count(
    case: tuple[int, list[tuple[int, int]]],
) -> None:
    """A count of people who took part can be no more than the people in its row: a reader
    who knows that still cannot pin a small count."""
    k, pairs = case
    parts = [min(a, b) for a, b in pairs]
    caps: list[int | None] = [max(a, b) if max(a, b) >= k else None for a, b in pairs]
    line = suppress_line(parts, sum(parts), k, caps)
    options = _reader_options(line, k, caps)
    for cell, could_be in zip(line.parts, options, strict=True):
        if 0 < cell.value < k:
            assert len(could_be) > 1, f"{parts} capped {caps} published as {line}"


def test_a_small_count_reads_fewer_than_k_and_zero_and_large_counts_read_as_numbers() -> None:
    line = suppress_line([3, 0, 12, 9], 24, 5)
    assert [c.text for c in line.parts] == ["fewer than 5", "0", "12", "hidden"]
    assert line.total.text == "24"
    assert single(7, 10).text == "fewer than 10" and single(10, 10).text == "10"


def test_two_small_counts_that_must_both_be_one_are_protected_by_hiding_another() -> None:
    line = suppress_line([1, 1, 10], 12, 5)
    assert [c.state for c in line.parts] == ["fewer", "fewer", "hidden"]


def test_a_total_below_k_hides_its_parts_and_itself() -> None:
    line = suppress_line([2, 0, 1], 3, 5)
    assert line.total.text == "fewer than 5"
    assert [c.text for c in line.parts] == ["fewer than 5", "0", "fewer than 5"]


def test_percentages_only_where_both_parts_are_shown() -> None:
    assert percentage(single(6, 5), single(12, 5)) == "50%"
    assert percentage(single(3, 5), single(12, 5)) is None
    assert percentage(single(6, 5), single(4, 5)) is None


def test_no_breakdown_of_a_meeting_or_poll_below_twenty_people() -> None:
    assert not suppression.breakdown_allowed(19)
    assert suppression.breakdown_allowed(20)


def test_parts_that_do_not_add_up_are_refused() -> None:
    try:
        suppress_line([1, 2], 4, 5)
    except ValueError:
        return
    raise AssertionError("a line whose parts do not add up was published")
