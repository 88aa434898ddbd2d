"""Login throttling: growing delays after failed logins, per account and per address.

Guessing passwords needs many tries; a member who mistypes needs a few. So the first
failures are free, then each further one doubles the wait before the next try is even
checked (1 s, 2 s, 4 s ... up to a few minutes), per email address and, with a larger
allowance for shared connections such as a care home's, per network address. A success
clears the account's count. Kept in memory: a restart forgives everyone, which is fine
for a delay whose only job is to make guessing slow.

Attempts are counted when they start (``begin``), not only when their hash check fails:
otherwise a burst sent all at once passes the allowance before the first failure lands.
And the hash checks themselves queue at a ``FairGate`` sized to the CPU cores, served
address by address in turn, so one client's burst cannot starve everyone else's login.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from starlette.datastructures import State


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0
    in_flight: int = 0  # attempts begun whose outcome is not known yet


class LoginThrottle:
    """``wait(email, address)`` says how long before another try; record each outcome."""

    def __init__(
        self,
        free_per_account: int = 5,
        free_per_address: int = 20,
        first_delay: float = 1.0,
        max_delay: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 50_000,
    ) -> None:
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
        waits = [
            r.blocked_until - now
            for k in self._keys(email, address)
            if (r := self._records.get(k)) is not None
        ]
        return max([0.0, *waits])

    def begin(self, email: str, address: str) -> float:
        """Start an attempt: 0 if it may go ahead (it then counts until ``failed`` or
        ``succeeded``), else the seconds to wait. Attempts in flight use up the allowance
        as failures do, so a burst gets no more tries than the same attempts one by one."""
        if (wait := self.wait(email, address)) > 0:
            return wait
        keys = self._keys(email, address)
        for key in keys:
            record = self._records.get(key)
            if (
                record
                and record.in_flight
                and (record.failures + record.in_flight >= self.free[key[0]])
            ):
                return self.first_delay
        for key in keys:
            record = self._records.pop(key, None) or _Record()
            record.in_flight += 1
            self._records[key] = record
        return 0.0

    def _settle(self, key: tuple[str, str]) -> _Record:
        record = self._records.pop(key, None) or _Record()
        record.in_flight = max(0, record.in_flight - 1)
        return record

    def failed(self, email: str, address: str) -> None:
        now = self.clock()
        for key in self._keys(email, address):
            record = self._settle(key)
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
        account, address_key = self._keys(email, address)
        self._records[address_key] = self._settle(address_key)
        record = self._settle(account)
        if record.in_flight:  # other attempts at this account are still being checked
            record.failures = 0
            self._records[account] = record


class FairGate:
    """At most ``slots`` holders at once; waiters are served one key (address) at a time in
    turn, so a key with many waiting cannot keep another key's single waiter behind them."""

    def __init__(self, slots: int) -> None:
        self.free = slots
        self._queues: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    @contextlib.asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        if self.free > 0 and not self._queues:
            self.free -= 1
        else:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._queues.setdefault(key, deque()).append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._release()  # handed a slot just as it was cancelled: pass it on
                else:
                    self._forget(key, waiter)
                raise
        try:
            yield
        finally:
            self._release()

    def _forget(self, key: str, waiter: asyncio.Future[None]) -> None:
        queue = self._queues.get(key)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del self._queues[key]

    def _release(self) -> None:
        while self._queues:
            key, queue = next(iter(self._queues.items()))
            waiter = queue.popleft()
            if queue:
                self._queues.move_to_end(key)  # the next slot goes to the next key
            else:
                del self._queues[key]
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


def hash_gate(state: State) -> FairGate:
    """The running app's one gate for password hashing, a slot per CPU core."""
    gate = getattr(state, "hash_gate", None)
    if gate is None:
        gate = FairGate(max(1, len(os.sched_getaffinity(0))))
        state.hash_gate = gate
    return gate


def for_app(state: State) -> LoginThrottle:
    """The running app's one throttle (kept on ``app.state``; made on first use)."""
    throttle = getattr(state, "login_throttle", None)
    if throttle is None:
        throttle = LoginThrottle()
        state.login_throttle = throttle
    return throttle
