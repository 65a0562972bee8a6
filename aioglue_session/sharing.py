"""``max_age``: sessions remembered for a while, and one request shared by concurrent calls.

For services that look the same hot session up many times a second. Keyed by
``(session_id, request_origin)``:

- *remembered*: the session a request brought back, with the time that request was sent
  (the call's start: never later than the request itself, so a session is never served older
  than asked). At most ``size`` are kept, the least recently used dropped first; 0 keeps none.
- *in flight*: the request a call with ``max_age`` started and that has not ended yet. Calls for
  the same key wait for it instead of sending their own (Go's ``singleflight``). The request runs
  in a task of its own, so a waiting call that is cancelled never cancels it for the others; the
  last waiter to leave cancels it.

Errors are never remembered; a shared request's error is raised in every call that waited for it.
This module knows nothing of the wire: the client hands it the coroutine that makes the request.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from .models import Session

__all__ = ["Flight", "SharedReads", "check_max_age"]

Key = tuple[str, "str | None"]


def check_max_age(max_age: object) -> float:
    """``max_age`` as a float of seconds >= 0, else ``TypeError`` / ``ValueError``."""
    if isinstance(max_age, bool) or not isinstance(max_age, (int, float)):
        raise TypeError(f"max_age must be a number of seconds or None, not {max_age!r}")
    if not max_age >= 0:  # also refuses NaN
        raise ValueError(f"max_age must be >= 0 seconds, not {max_age!r}")
    return float(max_age)


def check_cache_size(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"cache_size must be an int >= 0, not {size!r}")
    return size


class Flight:
    """One shared request: its task, the calls waiting for it, and when it was started."""

    __slots__ = ("key", "sent", "task", "waiters")

    def __init__(self, key: Key, sent: float, task: asyncio.Task[Session]) -> None:
        self.key = key
        self.sent = sent
        self.task = task
        self.waiters = 0


class SharedReads:
    """The remembered sessions (LRU) and the requests in flight of one client."""

    __slots__ = ("_clock", "_flights", "_fresh", "_size")

    def __init__(self, size: int, clock: Callable[[], float]) -> None:
        self._size = check_cache_size(size)
        self._clock = clock
        self._fresh: OrderedDict[Key, tuple[float, Session]] = OrderedDict()
        self._flights: dict[Key, Flight] = {}

    def __len__(self) -> int:
        """Sessions remembered now."""
        return len(self._fresh)

    def remembered(self, key: Key, max_age: float) -> Session | None:
        """The session for ``key`` from a request sent at most ``max_age`` seconds ago."""
        entry = self._fresh.get(key)
        if entry is None or self._clock() - entry[0] > max_age:
            return None
        self._fresh.move_to_end(key)
        return entry[1]

    def in_flight(self, key: Key) -> Flight | None:
        return self._flights.get(key)

    def start(
        self,
        key: Key,
        request: Callable[[], Coroutine[Any, Any, Session]],
        loop: asyncio.AbstractEventLoop,
    ) -> Flight:
        """Start ``request()`` in a task of its own as the flight for ``key``."""
        sent = self._clock()
        flight = Flight(key, sent, loop.create_task(self._run(key, sent, request)))
        self._flights[key] = flight
        return flight

    async def _run(
        self, key: Key, sent: float, request: Callable[[], Coroutine[Any, Any, Session]]
    ) -> Session:
        try:
            session = await request()
        finally:
            flight = self._flights.get(key)
            if flight is not None and flight.task is asyncio.current_task():
                del self._flights[key]
        if self._size:
            fresh = self._fresh
            fresh[key] = (sent, session)
            fresh.move_to_end(key)
            if len(fresh) > self._size:
                fresh.popitem(last=False)
        return session

    def leave(self, flight: Flight) -> None:
        """A waiting call gave up. The last one to leave cancels the request, and forgets it
        at once, so a call that comes after starts a request of its own."""
        flight.waiters -= 1
        if flight.waiters == 0 and not flight.task.done():
            if self._flights.get(flight.key) is flight:
                del self._flights[flight.key]
            flight.task.cancel()

    def clear(self) -> None:
        self._fresh.clear()
