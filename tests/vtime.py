"""Virtual time for the client's ``clock=`` / ``sleep=`` seams.

``VirtualTime.sleep(s)`` parks the caller until the virtual clock reaches ``now + s``. A driver task
moves the clock: once every task has had its turn (the loop has run a few idle rounds with no
progress), it jumps to the earliest wake-up and wakes the sleepers due then. So concurrent sleepers
wake in the order and at the times a real clock would give, and an hour of waiting takes
milliseconds. Works on any event loop (asyncio's, uvloop): it only uses ``asyncio.sleep(0)``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools


class VirtualTime:
    def __init__(self, start: float = 1_000.0, idle_rounds: int = 8) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._driver: asyncio.Task[None] | None = None
        self._idle_rounds = idle_rounds
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (self.now + max(seconds, 0.0), next(self._seq), future))
        if self._driver is None or self._driver.done():
            self._driver = loop.create_task(self._drive())
        await future

    async def advance(self, seconds: float) -> None:
        """Let virtual time pass (for a test's own waiting)."""
        await self.sleep(seconds)

    async def _drive(self) -> None:
        sleepers = self._sleepers
        while sleepers:
            for _ in range(self._idle_rounds):
                await asyncio.sleep(0)
            while sleepers and sleepers[0][2].done():  # cancelled sleepers
                heapq.heappop(sleepers)
            if not sleepers:
                return
            when = sleepers[0][0]
            self.now = max(self.now, when)
            while sleepers and sleepers[0][0] <= when:
                future = heapq.heappop(sleepers)[2]
                if not future.done():
                    future.set_result(None)
