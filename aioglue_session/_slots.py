"""A counting semaphore for the per-lookup hot path.

``asyncio.Semaphore`` costs a coroutine and a wake-up scan on every acquire and release, even
when a slot is free. Here taking a free slot is ``if slots.free: slots.free -= 1`` (done inline
by the callers through ``Slots.try_take``), a freed slot is handed straight to the longest
waiter (first come, first served: no barging), and a waiter can give up at a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

__all__ = ["Slots"]


class Slots:
    __slots__ = ("_waiters", "free")

    def __init__(self, count: int) -> None:
        self.free = count
        self._waiters: deque[asyncio.Future[bool]] = deque()

    def try_take(self) -> bool:
        """Take a slot if one is free, without waiting. (A freed slot goes straight to a live
        waiter, so a slot is only ever free when nobody is waiting.)"""
        if self.free > 0:
            self.free -= 1
            return True
        return False

    async def take(self, timeout: float | None = None) -> bool:
        """Take a slot, waiting in line for one; ``False`` if ``timeout`` passed first."""
        if self.try_take():
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(waiter)
        expiry = (
            loop.call_later(max(timeout, 0.0), _expire, waiter) if timeout is not None else None
        )
        try:
            got = await waiter
        except BaseException:
            # Cancelled. If a slot had already been handed over, pass it on.
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self.give()
            else:
                self._forget(waiter)
            raise
        finally:
            if expiry is not None:
                expiry.cancel()
        if not got:
            self._forget(waiter)
        return got

    def _forget(self, waiter: asyncio.Future[bool]) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)

    def give(self) -> None:
        """Return a slot: to the first live waiter if there is one, else to the pool."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():  # skip waiters that were cancelled or timed out
                waiter.set_result(True)
                return
        self.free += 1


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)
