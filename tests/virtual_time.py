"""Virtual time for tests of anything that waits: an hour of polling in milliseconds.

``VirtualTime`` gives a client its ``clock=`` and ``sleep=``. Its clock stands still while
anything can run; it moves only when the event loop has nothing left to do but wait, and then
straight to the earliest sleep's end. That is decided by the loop itself: ``run_virtual`` runs a
coroutine on an event loop whose selector, asked to block, first lets virtual time move on (so a
sleep ends only once every task that could run has run, as on a real clock with instant work).
Real I/O (a thread's result, a socket) still wakes the loop as usual.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import selectors
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

#: Where virtual time starts: a plausible epoch second, as the signing clock reads it.
START = 1_750_000_000.0


class VirtualTime:
    def __init__(self, start: float = START) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(seconds, 0.0), next(self._seq), future))
        await future

    def advance(self) -> bool:
        """Move to the earliest sleep's end and wake every sleep due then; ``False`` when no
        sleep is waiting."""
        sleepers = self._sleepers
        while sleepers and sleepers[0][2].done():  # cancelled sleeps
            heapq.heappop(sleepers)
        if not sleepers:
            return False
        self.now = max(self.now, sleepers[0][0])
        while sleepers and sleepers[0][0] <= self.now:
            future = heapq.heappop(sleepers)[2]
            if not future.done():
                future.set_result(None)
        return True


class _Selector(selectors.BaseSelector):
    """The default selector, except that where the loop would block, virtual time moves on."""

    def __init__(self, time: VirtualTime) -> None:
        self._inner = selectors.DefaultSelector()
        self._time = time

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None or timeout > 0:
            ready = self._inner.select(0)
            if ready or self._time.advance():
                return ready
        return self._inner.select(timeout)

    def close(self) -> None:
        self._inner.close()

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()


def run_virtual(main: Callable[[VirtualTime], Coroutine[Any, Any, T]]) -> T:
    """Run ``main(time)`` to the end on an event loop in virtual time."""
    time = VirtualTime()
    loop = asyncio.SelectorEventLoop(_Selector(time))
    try:
        return loop.run_until_complete(main(time))
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
