"""``max_rate``: a token bucket for every request a client starts.

The bucket holds at most ``max(1, rate)`` tokens and gains ``rate`` a second; each request takes
one just before it starts. Over any window of W seconds at most ``rate * W + max(1, rate)``
requests start. A request that finds no token *reserves* the next one (the bucket goes below
zero) and sleeps until that token exists: waiters are served in order of arrival, each wakes
once, and none of them polls. A waiter that gives up (cancelled) hands its reservation back.

Time comes from the client's ``clock=`` and waiting goes through its ``sleep=``, so tests drive
an hour of rate-limited traffic in virtual time. The rate can be changed while requests wait
(``max_rate="auto"`` does): the reservations already made keep their wake-up times, later ones
follow the new rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["RateLimit", "check_rate"]


def check_rate(rate: object) -> float:
    """``rate`` as a float, or ``ValueError`` / ``TypeError`` naming what is wrong with it."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise TypeError(f"max_rate must be a number of requests per second, not {rate!r}")
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"max_rate must be a positive, finite number, not {rate!r}")
    return float(rate)


class RateLimit:
    """A token bucket of ``max(1, rate)`` tokens refilled at ``rate`` tokens per second."""

    __slots__ = ("_capacity", "_clock", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, *, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._rate = check_rate(rate)
        self._capacity = max(1.0, self._rate)
        self._tokens = self._capacity  # a full bucket: the first max(1, rate) go at once
        self._stamp = clock()

    @property
    def rate(self) -> float:
        """Tokens per second."""
        return self._rate

    @rate.setter
    def rate(self, rate: float) -> None:
        self._refill(self._clock())  # what was earned so far, at the old rate
        self._rate = check_rate(rate)
        self._capacity = max(1.0, self._rate)
        if self._tokens > self._capacity:
            self._tokens = self._capacity

    @property
    def tokens(self) -> float:
        """Tokens in the bucket now (below zero while reservations wait for theirs)."""
        self._refill(self._clock())
        return self._tokens

    def _refill(self, now: float) -> None:
        tokens = self._tokens + (now - self._stamp) * self._rate
        self._tokens = tokens if tokens < self._capacity else self._capacity
        self._stamp = now

    def try_take(self) -> bool:
        """Take a token if one is there now."""
        self._refill(self._clock())
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def reserve(self, deadline: float | None = None) -> float | None:
        """Take the next token, on credit if need be: the seconds to wait until it exists (0.0
        when there is one now). ``None``, and nothing taken, when that wait would end after
        ``deadline`` (on the same clock)."""
        now = self._clock()
        self._refill(now)
        wait = 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self._rate
        if deadline is not None and now + wait > deadline:
            return None
        self._tokens -= 1.0
        return wait

    def give_back(self) -> None:
        """Return a reserved token that was not used (its waiter gave up)."""
        self._tokens += 1.0
        if self._tokens > self._capacity:
            self._tokens = self._capacity

    def __repr__(self) -> str:
        return f"RateLimit(rate={self._rate:g}, tokens={self.tokens:.2f})"
