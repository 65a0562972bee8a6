"""A discrete-event simulation, in virtual time, of a rate controller against a token-bucket
endpoint: the client's workers, its token bucket (paced at the controller's rate), botocore's
standard retries (3 attempts, throttling backoff ``rand() * 2 ** (attempt - 1)`` s, the 500-unit
retry quota), a round trip, and an endpoint that accepts ``limit(t)`` requests/s with a burst of
``limit / 10`` and throttles the rest.

Used by tests/test_ratecontrol.py to check the controller's targets without a network, and
deterministic (seeded) so a failure reproduces.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

RETRY_COST = 5  # botocore's RetryQuota: a retry costs 5, a success refunds 1, 500 at most
QUOTA = 500


class Controller(Protocol):
    rate: float

    def record(self, now: float, throttled: bool) -> float: ...


@dataclass
class Reply:
    at: float
    throttled: bool


@dataclass
class Result:
    replies: list[Reply] = field(default_factory=list)
    rates: list[tuple[float, float]] = field(default_factory=list)  # (time, controller rate)
    calls_ok: int = 0
    calls_failed: int = 0  # ran out of attempts (or retry quota) on throttling
    failed_at: list[float] = field(default_factory=list)

    def window(self, start: float, end: float) -> tuple[int, int]:
        """Accepted and throttled replies in [start, end)."""
        ok = sum(1 for r in self.replies if start <= r.at < end and not r.throttled)
        bad = sum(1 for r in self.replies if start <= r.at < end and r.throttled)
        return ok, bad

    def rates_in(self, start: float, end: float) -> list[float]:
        return [rate for t, rate in self.rates if start <= t < end]


def simulate(
    controller: Controller,
    limit: Callable[[float], float],
    *,
    seconds: float,
    workers: int = 32,
    rtt: float = 0.004,
    max_attempts: int = 3,
    seed: int = 0,
    sample_every: float = 0.05,
) -> Result:
    rng = random.Random(seed)
    result = Result()
    events: list[tuple[float, int, str, int]] = []
    order = itertools.count()

    def at(t: float, kind: str, worker: int) -> None:
        heapq.heappush(events, (t, next(order), kind, worker))

    # The endpoint's token bucket.
    server_tokens = max(limit(0.0) / 10, 1.0)
    server_at = 0.0
    # The client's token bucket (capacity max(1, rate)) and its FIFO of waiting workers.
    tokens = 1.0
    tokens_at = 0.0
    waiting: deque[int] = deque()
    dispatch_due: float | None = None
    attempt_of = [1] * workers
    quota = QUOTA

    def refill(now: float) -> None:
        nonlocal tokens, tokens_at
        rate = controller.rate
        tokens = min(max(1.0, rate), tokens + (now - tokens_at) * rate)
        tokens_at = now

    def schedule_dispatch(now: float) -> None:
        nonlocal dispatch_due
        if not waiting:
            return
        due = now + max(0.0, (1.0 - tokens) / controller.rate)
        if dispatch_due is None or due < dispatch_due - 1e-12:
            dispatch_due = due
            at(due, "dispatch", -1)

    def dispatch(now: float) -> None:
        nonlocal tokens
        refill(now)
        while waiting and tokens >= 1.0 - 1e-9:
            tokens -= 1.0
            at(now + rtt / 2, "arrive", waiting.popleft())
        schedule_dispatch(now)

    for w in range(workers):
        at(rng.random() * 0.01, "want", w)
    next_sample = 0.0
    while events:
        now, _, kind, w = heapq.heappop(events)
        if now >= seconds:
            break
        while next_sample <= now:
            result.rates.append((next_sample, controller.rate))
            next_sample += sample_every
        if kind == "want":
            waiting.append(w)
            dispatch(now)
        elif kind == "dispatch":
            if dispatch_due is not None and abs(now - dispatch_due) < 1e-12:
                dispatch_due = None
            dispatch(now)
        elif kind == "arrive":
            lim = limit(now)
            burst = max(lim / 10, 1.0)
            server_tokens = min(burst, server_tokens + (now - server_at) * lim)
            server_at = now
            throttled = server_tokens < 1.0
            if not throttled:
                server_tokens -= 1.0
            at(now + rtt / 2, "reply-throttled" if throttled else "reply-ok", w)
        elif kind == "reply-ok":
            result.replies.append(Reply(now, False))
            refill(now)
            controller.record(now, False)
            result.calls_ok += 1
            # botocore's release: a retried call gives its last retry's cost back, any other 1.
            quota = min(QUOTA, quota + (1 if attempt_of[w] == 1 else RETRY_COST))
            attempt_of[w] = 1
            at(now, "want", w)
        elif kind == "reply-throttled":
            result.replies.append(Reply(now, True))
            refill(now)
            controller.record(now, True)
            n = attempt_of[w]
            if n < max_attempts and quota >= RETRY_COST:
                quota -= RETRY_COST
                attempt_of[w] = n + 1
                at(now + rng.random() * min(2.0 ** (n - 1), 20.0), "want", w)
            else:
                result.calls_failed += 1
                result.failed_at.append(now)
                attempt_of[w] = 1
                at(now, "want", w)
        if kind.startswith("reply"):
            # The rate may have changed: a waiting worker may be due sooner.
            schedule_dispatch(now)
    return result


def steps(*changes: tuple[float, float]) -> Callable[[float], float]:
    """A limit that is ``changes[i][1]`` from time ``changes[i][0]`` on."""

    def limit(t: float) -> float:
        value = changes[0][1]
        for start, rate in changes:
            if t >= start:
                value = rate
        return value

    return limit


def settled_share(result: Result, start: float, end: float, lim: float) -> tuple[float, float]:
    """Goodput / limit and the throttled share of replies over [start, end)."""
    ok, bad = result.window(start, end)
    total = ok + bad
    return ok / (end - start) / lim, (bad / total if total else 0.0)


__all__ = ["Reply", "Result", "settled_share", "simulate", "steps"]
