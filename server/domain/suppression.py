"""Small-number suppression: the one rule for when counts drawn from people may be shown.

A count drawn from only a few people can give one of them away (the first voter in a small
group shows as "1 voter, Yes 100%"), so below the threshold only the number of people is
shown. Anonymous polls use it now; equality reports will use the same rule later.
"""

from __future__ import annotations

DEFAULT_THRESHOLD = 5  # the default of the `privacy_threshold` setting


def counts_shown(people: int, threshold: int) -> bool:
    """True when counts drawn from ``people`` people are safe to show: at least the threshold."""
    return people >= threshold
