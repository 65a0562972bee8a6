"""The retry policy: botocore's standard and adaptive retry semantics, with asyncio's sleep.

botocore decides; this module only drives. Which replies are retried (``StandardRetryConditions``:
throttling codes, transient codes, 5xx, connection errors and timeouts), how long to back off
(``ExponentialBackoff``), how much retry budget a client has (``RetryQuota`` behind
``RetryQuotaChecker``), and in adaptive mode how fast to send (``ClientRateLimiter`` with its CUBIC
``CubicCalculator``, ``RateClocker`` and ``TokenBucket``) are all botocore's own objects, fed the
same ``RetryContext`` botocore builds. What is added for asyncio: the sleeping (``await``, with an
injected ``sleep`` so tests run instantly), a non-blocking wait for send tokens, and the ``total``
deadline across attempts and sleeps.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import CapacityNotAvailableError, SSLError
from botocore.retries import adaptive, bucket, quota, standard, throttling

from .errors import RETRYABLE_KINDS, GlueError
from .settings import check_retry_mode

__all__ = ["AdaptiveLimiter", "ContextAdapter", "Recovery", "Retrier"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Recovery(Protocol):
    """Fixes a condition the retry policy does not cover (clock skew, expired token).

    Returns ``True`` when the next attempt should be sent at once, outside the policy."""

    def __call__(self, exc: BaseException, done: set[str]) -> Awaitable[bool]: ...


class _Clock(bucket.Clock):
    """botocore's clock interface over an injected time function."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def current_time(self) -> float:
        return self._now()

    def sleep(self, amount: float) -> None:  # pragma: no cover - never used: we never block
        raise RuntimeError("the adaptive limiter must not block the event loop")


def retry_context(
    attempt: int, exc: BaseException | None, request_context: dict[str, Any] | None = None
) -> standard.RetryContext:
    """botocore's ``RetryContext`` for one attempt's outcome: an error reply (parsed response
    and HTTP response), a network failure (caught exception), or success."""
    if isinstance(exc, GlueError):
        meta = exc.response.get("ResponseMetadata", {})
        headers = HTTPHeaders()
        for name, value in meta.get("HTTPHeaders", {}).items():
            headers[name] = value
        return standard.RetryContext(
            attempt,
            parsed_response=exc.response,
            http_response=AWSResponse("", meta.get("HTTPStatusCode", 0), headers, None),
            request_context=request_context,
        )
    if exc is None:
        return standard.RetryContext(
            attempt, parsed_response={}, http_response=_OK_RESPONSE, request_context=request_context
        )
    return standard.RetryContext(
        attempt,
        caught_exception=exc,  # type: ignore[arg-type]
        request_context=request_context,
    )


_OK_RESPONSE = AWSResponse("", 200, HTTPHeaders(), None)
#: The request context of a call that never retried (botocore only reads it on success).
_NO_RETRY_CONTEXT: dict[str, Any] = {}


class ContextAdapter(standard.RetryEventAdapter):
    """botocore's event adapter for a caller that already has the ``RetryContext``: the
    adaptive limiter passes its ``on_receiving_response(context=...)`` kwargs straight to
    ``ThrottlingErrorDetector.is_throttling_error``, which asks the adapter for the context."""

    def create_retry_context(self, **kwargs: Any) -> standard.RetryContext:
        context: standard.RetryContext = kwargs["context"]
        return context


class AdaptiveLimiter:
    """botocore's adaptive ``ClientRateLimiter``, with an awaitable instead of a blocking acquire.

    One per client: every call of the client shares the measured rate and the token bucket.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._clock = _Clock(clock)
        self._sleep = sleep
        self._bucket = bucket.TokenBucket(max_rate=1, clock=self._clock)
        self._limiter = adaptive.ClientRateLimiter(
            rate_adjustor=throttling.CubicCalculator(
                starting_max_rate=0, start_time=self._clock.current_time()
            ),
            rate_clocker=adaptive.RateClocker(self._clock),
            token_bucket=self._bucket,
            throttling_detector=standard.ThrottlingErrorDetector(
                retry_event_adapter=ContextAdapter()
            ),
            clock=self._clock,
        )
        # botocore keeps "limiting has started" private; we read it rather than duplicate it.
        self._internals: Any = self._limiter

    @property
    def enabled(self) -> bool:
        """Whether sends are being rate limited (after the first throttle, as in botocore)."""
        return bool(self._internals._enabled)

    @property
    def send_rate(self) -> float:
        """The current allowed send rate in requests per second."""
        return float(self._bucket.max_rate)

    async def acquire(
        self,
        deadline: float | None = None,
        on_wait: Callable[[], Callable[[], object]] | None = None,
    ) -> None:
        """Wait (without blocking the loop) for a send token. ``on_wait()``, when given, is
        called before the first sleep (it may refuse the wait by raising) and returns what to
        call once the waiting is over."""
        if not self._internals._enabled:
            return
        done: Callable[[], object] | None = None
        try:
            while True:
                try:
                    self._bucket.acquire(1, block=False)
                    return
                except CapacityNotAvailableError:
                    wait = max((1 - self._bucket.available_capacity) / self._bucket.max_rate, 0.001)
                if deadline is not None and self._clock.current_time() + wait > deadline:
                    raise asyncio.TimeoutError("no send capacity before the call's total timeout")
                if done is None and on_wait is not None:
                    done = on_wait()
                await self._sleep(wait)
        finally:
            if done is not None:
                done()

    def record(self, attempt: int, exc: BaseException | None) -> None:
        """Feed one reply (or failure) to the rate adjuster, as botocore's needs-retry does."""
        self._limiter.on_receiving_response(context=retry_context(attempt, exc))


class Retrier:
    """Runs one call's attempts under the client's shared retry state."""

    def __init__(
        self,
        *,
        mode: str = "standard",
        max_attempts: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.mode = check_retry_mode(mode)
        self.max_attempts = max_attempts
        self.clock = clock
        self._sleep = sleep
        self._adapter = standard.RetryEventAdapter()
        detector = standard.ThrottlingErrorDetector(retry_event_adapter=self._adapter)
        self._policy = standard.RetryPolicy(
            retry_checker=_StandardConditions(max_attempts),
            retry_backoff=_backoff(rng, detector),
        )
        self.quota = quota.RetryQuota()
        self._full_quota = self.quota.available_capacity
        self._quota_checker = _quota_checker(self.quota, detector)
        self.limiter = AdaptiveLimiter(clock=clock, sleep=sleep) if mode == "adaptive" else None

    def deadline(self, total: float | None) -> float | None:
        return None if total is None else self.clock() + total

    async def call(
        self,
        attempt: Callable[[int, float | None], Awaitable[T]],
        *,
        deadline: float | None = None,
        recover: Recovery | None = None,
        on_retry: Callable[[int, BaseException, float], object] | None = None,
        failure: BaseException | None = None,
        on_wait: Callable[[int], Callable[[], object]] | None = None,
    ) -> T:
        """Run ``attempt(n, deadline)`` until it succeeds or the policy says stop.

        ``attempt`` raises ``GlueError`` for error replies and botocore exceptions for network
        failures; those are classified. The last one is re-raised when retrying stops.
        ``on_retry(n, exc, delay)`` hears of each retry before its backoff (``delay`` 0.0 for a
        retry sent at once after ``recover`` fixed the cause). ``failure`` is the first
        attempt's error when the caller made that attempt itself (the fast path: a call that
        succeeds at once never enters this loop; see ``first_try_succeeded``). ``on_wait(n)``
        hears that attempt ``n`` is about to wait for the adaptive limiter's token (see
        ``AdaptiveLimiter.acquire``).
        """
        # Made on the first failure only.
        request_context: dict[str, Any] = {}
        recovered: set[str] = set()
        n = 1
        limiter = self.limiter
        while True:
            if failure is None:
                if limiter is not None:
                    await limiter.acquire(
                        deadline, None if on_wait is None else functools.partial(on_wait, n)
                    )
                try:
                    result = await attempt(n, deadline)
                except RETRYABLE_KINDS as error:
                    failure = error
                else:
                    if limiter is not None:
                        limiter.record(n, None)
                    self._quota_checker.release_retry_quota(
                        request_context,  # type: ignore[arg-type]
                        _OK_RESPONSE,
                    )
                    return result
            exc, failure = failure, None
            if limiter is not None:
                limiter.record(n, exc)
            if recover is not None and await recover(exc, recovered):
                _log_attempt(n, exc, "retrying at once after correcting it")
                if on_retry is not None:
                    on_retry(n, exc, 0.0)
                n += 1
                continue
            delay = self._retry_delay(n, exc, request_context)
            if delay is None:
                _log_attempt(n, exc, "not retrying")
                raise exc
            if deadline is not None and self.clock() + delay > deadline:
                _log_attempt(n, exc, f"not retrying: a {delay:.3f}s backoff passes the total")
                raise exc
            _log_attempt(n, exc, f"retrying in {delay:.3f}s")
            if on_retry is not None:
                on_retry(n, exc, delay)
            await self._sleep(delay)
            n += 1

    def first_try_succeeded(self) -> None:
        """What botocore does after a call that succeeded without a retry: refund one unit of
        retry quota (nothing to do while the quota is full, the common case)."""
        if self.quota.available_capacity < self._full_quota:
            self._quota_checker.release_retry_quota(
                _NO_RETRY_CONTEXT,  # type: ignore[arg-type]
                _OK_RESPONSE,
            )

    def _retry_delay(
        self, attempt: int, exc: BaseException, request_context: dict[str, Any]
    ) -> float | None:
        """botocore's decision for this failure: the backoff delay, or ``None`` to stop."""
        context = retry_context(attempt, exc, request_context)
        if self._policy.should_retry(context) and self._quota_checker.acquire_retry_quota(context):
            return float(self._policy.compute_retry_delay(context))
        # Stopping: put botocore's verdict (MaxAttemptsReached / RetryQuotaReached) into the
        # error's ResponseMetadata, as boto3 does, and let the message say so.
        self._adapter.adapt_retry_response_from_context(context)
        if isinstance(exc, GlueError):
            exc.refresh_message()
        return None


class _StandardConditions(standard.BaseRetryableChecker):
    """botocore's ``StandardRetryConditions`` without its STS- and DynamoDB-only checkers.

    Those two read ``context.operation_model.service_model``; we carry no service model, and
    neither applies to Glue. The rest is botocore's own checkers, combined the same way:
    ``under max attempts and (transient or throttled or modeled-retryable)``, except that a
    certificate that did not verify is never retried (see ``certificate_failed``).
    """

    def __init__(self, max_attempts: int) -> None:
        self._max_attempts = standard.MaxAttemptsChecker(max_attempts)
        self._conditions = standard.OrRetryChecker(
            [
                standard.TransientRetryableChecker(),
                standard.ThrottledRetryableChecker(),
                standard.ModeledRetryableChecker(),
            ]
        )

    def is_retryable(self, context: standard.RetryContext) -> bool:
        if certificate_failed(context.caught_exception):
            # botocore counts SSLError as a transient ConnectionError and sends twice more; a
            # certificate that did not verify will not verify a second later: fail at once.
            return False
        return bool(
            self._max_attempts.is_retryable(context) and self._conditions.is_retryable(context)
        )


def certificate_failed(exc: BaseException | None) -> bool:
    """An ``SSLError`` for a certificate that did not verify (untrusted, expired, another
    host's name): its ``error`` is an ``ssl.SSLCertVerificationError``. Other TLS failures (a
    handshake cut short) stay transient, as in botocore."""
    return isinstance(exc, SSLError) and isinstance(
        exc.kwargs.get("error"), ssl.SSLCertVerificationError
    )


def _log_attempt(attempt: int, exc: BaseException, decision: str) -> None:
    """The DEBUG line for a failed attempt: number, status or exception, code, request id,
    and what happens next. Error messages are left out: they can quote request data."""
    if not logger.isEnabledFor(logging.DEBUG):
        return
    if isinstance(exc, GlueError):
        logger.debug(
            "GetSession attempt %d: HTTP %s %s request_id=%s; %s",
            attempt,
            exc.status_code,
            exc.code,
            exc.request_id or "-",
            decision,
        )
    else:
        logger.debug("GetSession attempt %d: %s; %s", attempt, type(exc).__name__, decision)


def _quota_checker(
    retry_quota: quota.RetryQuota, detector: standard.ThrottlingErrorDetector
) -> standard.RetryQuotaChecker:
    """botocore's retry quota checker, with the retry costs of the installed botocore."""
    try:
        return standard.RetryQuotaChecker(retry_quota, detector)
    except TypeError:  # older botocore (1.34): no throttling detector, one cost per retry
        return standard.RetryQuotaChecker(retry_quota)


def _backoff(
    rng: Callable[[], float], detector: standard.ThrottlingErrorDetector
) -> standard.ExponentialBackoff:
    try:
        return standard.ExponentialBackoff(
            max_backoff=20, random=rng, service_name="glue", throttling_detector=detector
        )
    except TypeError:  # botocore before throttling-aware backoff
        return standard.ExponentialBackoff(max_backoff=20, random=rng)
