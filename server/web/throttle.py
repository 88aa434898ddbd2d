"""Login throttling: growing delays after failed logins, per account and per address.

Guessing passwords needs many tries; a member who mistypes needs a few. So the first
failures are free, then each further one doubles the wait before the next try is even
checked (1 s, 2 s, 4 s ... up to a few minutes), per email address and, with a larger
allowance for shared connections such as a care home's, per network address. A success
clears the account's count. Kept in memory: a restart forgives everyone, which is fine
for a delay whose only job is to make guessing slow.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0


class LoginThrottle:
    """``wait(email, address)`` says how long before another try; record each outcome."""

    def __init__(self, free_per_account: int = 5, free_per_address: int = 20,
                 first_delay: float = 1.0, max_delay: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 50_000) -> None:
        self.free = {"account": free_per_account, "address": free_per_address}
        self.first_delay, self.max_delay = first_delay, max_delay
        self.clock = clock
        self.max_keys = max_keys
        self._records: OrderedDict[tuple[str, str], _Record] = OrderedDict()

    @staticmethod
    def _keys(email: str, address: str) -> list[tuple[str, str]]:
        return [("account", email.strip().lower()), ("address", address)]

    def wait(self, email: str, address: str) -> float:
        """Seconds until this email may try again from this address (0: try now)."""
        now = self.clock()
        waits = [r.blocked_until - now for k in self._keys(email, address)
                 if (r := self._records.get(k)) is not None]
        return max([0.0, *waits])

    def failed(self, email: str, address: str) -> None:
        now = self.clock()
        for key in self._keys(email, address):
            record = self._records.pop(key, None) or _Record()
            record.failures += 1
            beyond = record.failures - self.free[key[0]]
            if beyond > 0:
                delay = min(self.max_delay, self.first_delay * 2 ** min(beyond - 1, 30))
                record.blocked_until = now + delay
            self._records[key] = record  # most recent last, so the oldest go first
        while len(self._records) > self.max_keys:
            self._records.popitem(last=False)

    def succeeded(self, email: str, address: str) -> None:
        """The right password: the account's count starts again (the address's does not,
        so one known account cannot launder guesses at others from the same place)."""
        self._records.pop(("account", email.strip().lower()), None)


def for_app(state: object) -> LoginThrottle:
    """The running app's one throttle (kept on ``app.state``; made on first use)."""
    throttle = getattr(state, "login_throttle", None)
    if throttle is None:
        throttle = LoginThrottle()
        state.login_throttle = throttle  # type: ignore[attr-defined]
    return throttle
