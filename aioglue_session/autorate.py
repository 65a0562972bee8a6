"""``max_rate="auto"``: the client's token bucket, paced at the rate the control loop learns.

``AutoRate`` *is* the ``max_rate`` token bucket (``RateLimit``: same pacing, same
``max_waiting`` behaviour, same ``clock=`` / ``sleep=`` seams), with its rate set by a
``RateController`` (``ratecontrol``) that hears of every reply: ``succeeded()`` for a session,
``failed(exc)`` for an error reply. Which error replies are throttling is botocore's decision,
the one its retry classifier makes (``ThrottlingErrorDetector``: ``ThrottlingException``,
``TooManyRequestsException``, ``RequestLimitExceeded``, ... and modeled throttling errors).
Network failures say nothing about the quota and are not fed in.

Imported by the client only when ``max_rate="auto"`` is asked for, after ``retries``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from botocore.retries import standard

from .errors import GlueError
from .ratecontrol import RateController
from .ratelimit import RateLimit
from .retries import ContextAdapter, retry_context

__all__ = ["AutoRate", "is_throttling"]

#: RateLimit's setter: refills at the old rate, then changes the rate.
_set_rate: Callable[[RateLimit, float], None] = RateLimit.rate.fset  # type: ignore[attr-defined]

#: botocore's detector, asked through ``is_throttling_error(context=...)``: the one entry point
#: every supported botocore has (1.34 has no ``is_throttling_error_from_context``).
_DETECTOR = standard.ThrottlingErrorDetector(retry_event_adapter=ContextAdapter())


def is_throttling(exc: GlueError, attempt: int = 1) -> bool:
    """Whether botocore's retry classifier counts this error reply as throttling."""
    return bool(_DETECTOR.is_throttling_error(context=retry_context(attempt, exc)))


class AutoRate(RateLimit):
    """A ``RateLimit`` whose rate follows what the endpoint's replies teach.

    Waiting differs in one way. ``RateLimit.reserve`` fixes a waiter's wake-up time when it
    reserves, which is exact for a fixed rate; here the rate moves while requests wait, and a
    queue of waiters booked at yesterday's rate would keep sending at it for
    ``waiters / rate`` seconds (a third of a second for 32 waiters at 100/s): the control loop
    would act late on every cut and every rise. So ``wait`` takes a numbered place in line and
    sleeps in naps of at most ``NAP`` seconds, each time asking how many tokens its place
    still needs at the current rate.
    """

    NAP = 0.05
    #: Seconds' worth of tokens the bucket holds (at least one). Less than a fixed
    #: ``max_rate``'s second: a client that idled (its callers all in retry backoff after a
    #: throttle) would otherwise send a second's worth at once, far past an endpoint's burst,
    #: be throttled for it while sending under the limit on average, and learn a limit lower
    #: than the real one.
    BURST = 0.05

    __slots__ = ("_booked", "control", "throttles")

    def __init__(self, *, clock: Callable[[], float]) -> None:
        self.control = RateController(now=clock())
        super().__init__(self.control.rate, clock=clock)
        self._hold(self._rate)
        #: Throttling replies seen (for tests and curious users).
        self.throttles = 0
        #: Places handed out by ``wait`` (a place ``n`` is due when ``_booked + tokens >= n``).
        self._booked = 0

    async def wait(
        self, sleep: Callable[[float], Awaitable[Any]], deadline: float | None = None
    ) -> bool:
        """Take a place in line and wait (through ``sleep``) until its token exists at the
        current rate. ``False``, with nothing taken, when that would be after ``deadline``."""
        self._refill(self._clock())
        self._tokens -= 1.0
        self._booked += 1
        place = self._booked
        try:
            while True:
                now = self._clock()
                self._refill(now)
                short = place - (self._booked + self._tokens)
                if short <= 1e-9:  # (not 0: a float residue would nap below the clock's tick)
                    return True
                wait = short / self._rate
                if deadline is not None and now + wait > deadline:
                    self._leave(place)
                    return False
                await sleep(wait if wait < self.NAP else self.NAP)
        except BaseException:
            self._leave(place)
            raise

    def _leave(self, place: int) -> None:
        """A place given up: handed back when it is the last in line; otherwise its token is
        spent unused (the places behind it keep their turn; none is served twice)."""
        if place == self._booked:
            self._booked -= 1
            self.give_back()

    def succeeded(self) -> None:
        """A reply with a session."""
        self._learn(self.control.record(self._clock(), False))

    def failed(self, exc: GlueError, attempt: int = 1) -> None:
        """An error reply: learns from it if it is throttling (other errors passed the quota:
        they count as accepted)."""
        throttled = is_throttling(exc, attempt)
        self.throttles += throttled
        self._learn(self.control.record(self._clock(), throttled))

    @property
    def rate(self) -> float:
        """Tokens per second: the learned rate."""
        return self._rate

    @rate.setter
    def rate(self, rate: float) -> None:
        _set_rate(self, rate)
        self._hold(rate)

    def _learn(self, rate: float) -> None:
        if rate != self._rate:
            self.rate = rate

    def _hold(self, rate: float) -> None:
        capacity = max(1.0, rate * self.BURST)
        self._capacity = capacity
        if self._tokens > capacity:
            self._tokens = capacity
