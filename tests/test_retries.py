"""Retries, backoff, timeouts and faults, against the scripted local fault server.

Backoff sleeps are replaced by an instant recording sleep, so these tests are fast and assert the
exact delays botocore chose; timeouts are real but short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import botocore.configprovider
import botocore.session
import pytest
from botocore.credentials import CredentialProvider, RefreshableCredentials
from botocore.exceptions import (
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.retries import standard
from conftest import InstantSleep, assert_no_leaks
from faultserver import (
    FaultServer,
    access_denied,
    error,
    expired_token,
    html_502,
    not_found,
    ok,
    reset_after_headers,
    reset_before_headers,
    server_error,
    skewed,
    stall,
    throttle,
    truncated_json,
    xml_error,
)

from aioglue_session import GlueSessionClient, RetryConfig, Timeouts, errors
from aioglue_session.retries import Retrier

KEY, SECRET = "AKIDFAULTTEST", "fault-secret-value-1234567890"


def client(url: str, **kw: Any) -> GlueSessionClient:
    kw.setdefault("timeouts", Timeouts(connect=1, read=1))
    return GlueSessionClient(
        endpoint_url=url,
        region="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        **kw,
    )


@pytest.fixture
async def glue(fault_server: FaultServer, sleep: InstantSleep) -> AsyncIterator[GlueSessionClient]:
    """A client on the fault server whose backoff sleeps are instant (and recorded)."""
    async with client(fault_server.url, sleep=sleep) as g:
        yield g
        assert_no_leaks(g)


def backoff_scale(throttling: bool) -> float:
    """botocore's base scale for this kind of error (1 before its 'new retries' switch, and in
    botocores older than the switch)."""
    if not getattr(botocore.configprovider, "NEW_RETRIES_ENABLED", False):
        return 1.0
    cfg = standard.ExponentialBackoff._DEFAULT_BACKOFF_CONFIG
    return float(cfg["throttling_base_scale" if throttling else "non_throttling_base_scale"])


# --- what is retried -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        throttle(),
        server_error(500),
        server_error(503),
        html_502(),
        reset_before_headers(),
        reset_after_headers(),
        error(400, "RequestTimeoutException", "slow"),
    ],
    ids=["throttle", "500", "503", "html-502", "reset-before", "reset-after", "transient-code"],
)
async def test_transient_faults_are_retried_then_succeed(
    glue: GlueSessionClient, fault_server: FaultServer, sleep: InstantSleep, fault: Any
) -> None:
    fault_server.script([fault, fault, ok()])
    session = await glue.get_session("s-1")
    assert session.id == "s-1"
    assert fault_server.count == 3
    assert len(sleep.delays) == 2


@pytest.mark.parametrize(
    ("fault", "cls", "code"),
    [
        (not_found("s-1"), errors.EntityNotFoundException, "EntityNotFoundException"),
        (access_denied(), errors.AccessDeniedException, "AccessDeniedException"),
        (
            error(400, "InvalidInputException", "bad"),
            errors.InvalidInputException,
            "InvalidInputException",
        ),
        (error(400, "ValidationException", "no"), errors.GlueError, "ValidationException"),
        (
            xml_error(403, "SignatureDoesNotMatch", "bad sig"),
            errors.GlueError,
            "SignatureDoesNotMatch",
        ),
        (truncated_json(), errors.GlueError, "InvalidReply"),
    ],
    ids=["not-found", "access-denied", "invalid-input", "other-4xx", "xml-403", "truncated"],
)
async def test_non_retryable_errors_are_sent_once(
    glue: GlueSessionClient,
    fault_server: FaultServer,
    sleep: InstantSleep,
    fault: Any,
    cls: type,
    code: str,
) -> None:
    fault_server.script([fault, ok()])
    with pytest.raises(errors.GlueError) as info:
        await glue.get_session("s-1")
    assert type(info.value) is cls
    assert info.value.code == code
    assert info.value.retry_attempts == 0
    assert fault_server.count == 1
    assert sleep.delays == []


async def test_last_error_carries_attempts_code_status_and_request_id(
    glue: GlueSessionClient, fault_server: FaultServer
) -> None:
    fault_server.script([server_error(503), server_error(503), server_error(500)])
    with pytest.raises(errors.InternalServiceException) as info:
        await glue.get_session("s-1")
    err = info.value
    assert fault_server.count == 3  # max_attempts=3 counts the first try
    assert err.retry_attempts == 2
    assert err.status_code == 500 and err.code == "InternalServiceException"
    last_rid = fault_server.requests and err.request_id
    assert last_rid and re.fullmatch(r"[0-9a-f-]{36}", last_rid)
    assert "reached max retries: 2" in str(err)


@pytest.mark.parametrize("attempts", [1, 2, 5])
async def test_max_attempts_counts_the_first_try(fault_server: FaultServer, attempts: int) -> None:
    fault_server.default = throttle()
    async with client(
        fault_server.url, retry=RetryConfig(max_attempts=attempts), sleep=InstantSleep()
    ) as glue:
        with pytest.raises(errors.ThrottlingException) as info:
            await glue.get_session("s-1")
    assert fault_server.count == attempts
    assert info.value.retry_attempts == attempts - 1


async def test_every_attempt_is_signed_afresh(fault_server: FaultServer) -> None:
    # An injected clock a second further on at every reading: each attempt's date differs.
    ticks = iter(range(1000))
    base = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp()
    fault_server.script([throttle(), server_error(500), ok()])
    async with client(
        fault_server.url, clock=lambda: base + next(ticks), sleep=InstantSleep()
    ) as glue:
        await glue.get_session("s-1")
    dates = [r.amz_date or "" for r in fault_server.requests]
    assert len(set(dates)) == 3 and dates == sorted(dates)
    assert all(d.startswith("20260101T12") for d in dates)
    auths = {r.headers["Authorization"] for r in fault_server.requests}
    assert len(auths) == 3


# --- network failures become botocore's exceptions ------------------------------------------------


async def test_resets_exhaust_into_connection_closed(
    glue: GlueSessionClient, fault_server: FaultServer
) -> None:
    fault_server.default = reset_before_headers()
    with pytest.raises(ConnectionClosedError):
        await glue.get_session("s-1")
    assert fault_server.count == 3


async def test_stall_beyond_read_timeout_is_read_timeout(fault_server: FaultServer) -> None:
    fault_server.default = stall(5)
    async with client(
        fault_server.url, timeouts=Timeouts(connect=1, read=0.2), sleep=InstantSleep()
    ) as glue:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ReadTimeoutError):
            await glue.get_session("s-1")
        elapsed = loop.time() - started
        assert_no_leaks(glue)
    assert fault_server.count == 3
    assert 0.6 <= elapsed < 2.0


async def test_refused_connection_is_endpoint_connection_error() -> None:
    import socket

    with socket.socket() as sock:  # a port that is bound but not listening: refused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sleep = InstantSleep()
        async with client(f"http://127.0.0.1:{port}", sleep=sleep) as glue:
            with pytest.raises(EndpointConnectionError) as info:
                await glue.get_session("s-1")
    assert str(port) in str(info.value)
    assert len(sleep.delays) == 2  # connection errors are retried


# --- total timeout --------------------------------------------------------------------------------


async def test_total_bounds_attempts_and_sleeps(fault_server: FaultServer) -> None:
    fault_server.default = stall(5)
    async with client(fault_server.url, timeouts=Timeouts(connect=1, read=10, total=0.4)) as glue:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ReadTimeoutError):
            await glue.get_session("s-1")
        assert loop.time() - started < 1.0
        assert_no_leaks(glue)


async def test_no_sleep_starts_that_would_end_past_total() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    retrier = Retrier(max_attempts=10, clock=lambda: now[0], sleep=sleep, rng=lambda: 1.0)
    calls = 0

    async def attempt(n: int, deadline: float | None) -> str:
        nonlocal calls
        calls += 1
        raise errors.ThrottlingException(
            {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {"HTTPStatusCode": 400}}
        )

    with pytest.raises(errors.ThrottlingException):
        await retrier.call(attempt, deadline=retrier.deadline(5.0))
    # rng=1: delays 1, 2, then 4 would end at 7 > 5, so it stops after two sleeps.
    assert slept == [1.0 * backoff_scale(True), 2.0 * backoff_scale(True)]
    assert calls == 3
    assert now[0] <= 5.0


# --- backoff and quota on an injected clock ------------------------------------------------------


def throttling_error() -> errors.GlueError:
    return errors.ThrottlingException(
        {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    )


def server_failure() -> errors.GlueError:
    return errors.GlueError(
        {"Error": {"Code": "InternalFailure"}, "ResponseMetadata": {"HTTPStatusCode": 500}}
    )


async def run_failing(
    retrier: Retrier, exc: Callable[[], BaseException], succeed_on: int | None = None
) -> int:
    calls = 0

    async def attempt(n: int, deadline: float | None) -> str:
        nonlocal calls
        calls += 1
        if succeed_on is not None and n == succeed_on:
            return "ok"
        raise exc()

    with contextlib.suppress(Exception):
        await retrier.call(attempt)
    return calls


@pytest.mark.parametrize(("rng", "throttling"), [(1.0, True), (0.25, True), (1.0, False)])
async def test_backoff_is_botocores_truncated_exponential(rng: float, throttling: bool) -> None:
    sleep = InstantSleep()
    retrier = Retrier(max_attempts=8, sleep=sleep, rng=lambda: rng)
    await run_failing(retrier, throttling_error if throttling else server_failure)
    scale = backoff_scale(throttling)
    if hasattr(standard.ExponentialBackoff, "_DEFAULT_BACKOFF_CONFIG"):
        expected = [rng * min(scale * 2 ** (n - 1), 20) for n in range(1, 8)]
    else:  # botocore 1.34: the jitter before the cap, t_i = min(rand * 2 ** i, 20)
        expected = [min(rng * 2 ** (n - 1), 20) for n in range(1, 8)]
    assert sleep.delays == pytest.approx(expected)
    assert max(sleep.delays) <= 20


async def test_retry_quota_drains_and_refills() -> None:
    retrier = Retrier(max_attempts=3, sleep=InstantSleep())
    quota = retrier.quota
    assert quota.available_capacity == 500
    checker = standard.RetryQuotaChecker
    # A throttle's cost; botocores older than the throttling-aware quota charge every retry alike.
    cost = getattr(checker, "_THROTTLING_RETRY_COST", checker._RETRY_COST)
    await run_failing(retrier, throttling_error)  # 2 retries
    assert quota.available_capacity == 500 - 2 * cost
    # A call that succeeds after a retry gives back what its last retry took.
    await run_failing(retrier, throttling_error, succeed_on=2)
    assert quota.available_capacity == 500 - 2 * cost
    # Drain it: once empty, failures are no longer retried.
    while quota.available_capacity >= cost:
        await run_failing(retrier, throttling_error)
    assert await run_failing(retrier, throttling_error) == 1
    # Successes without retries refill one unit each.
    before = quota.available_capacity
    for _ in range(10):
        await run_failing(retrier, throttling_error, succeed_on=1)
    assert quota.available_capacity == before + 10 * checker._NO_RETRY_INCREMENT


async def test_quota_is_shared_by_all_calls_of_a_client(
    glue: GlueSessionClient, fault_server: FaultServer
) -> None:
    fault_server.default = throttle()
    start = glue.retry_quota
    await asyncio.gather(*(glue.get_session(f"s-{i}") for i in range(5)), return_exceptions=True)
    assert glue.retry_quota < start
    assert fault_server.count == 15


# --- clock skew and expired credentials ----------------------------------------------------------


@pytest.mark.parametrize("code", ["InvalidSignatureException", "RequestTimeTooSkewed"])
async def test_clock_skew_is_corrected_and_retried_once(
    glue: GlueSessionClient, fault_server: FaultServer, code: str
) -> None:
    fault_server.script([skewed(3600, code), ok()])
    session = await glue.get_session("s-1")
    assert session.id == "s-1"
    first, second = (
        datetime.strptime(r.amz_date or "", "%Y%m%dT%H%M%SZ") for r in fault_server.requests
    )
    assert 3590 <= (second - first).total_seconds() <= 3610
    assert abs(glue.clock_offset - 3600) < 10
    # A second skew reply in the same call is not corrected again.
    fault_server.script([skewed(-7200, code), skewed(-7200, code)])
    with pytest.raises(errors.GlueError):
        await glue.get_session("s-2")


async def test_signature_error_without_expiry_wording_is_not_a_skew(
    glue: GlueSessionClient, fault_server: FaultServer
) -> None:
    fault_server.script(
        [
            error(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match",
                Date="Mon, 01 Jan 2024 00:00:00 GMT",
            )
        ]
    )
    with pytest.raises(errors.GlueError):
        await glue.get_session("s-1")
    assert fault_server.count == 1
    assert glue.clock_offset == 0.0


class CountingProvider(CredentialProvider):
    """A credential provider whose refreshable credentials count their refreshes."""

    METHOD = "counting"

    def __init__(self) -> None:
        self.refreshes = 0

    def _metadata(self) -> dict[str, str]:
        expiry = datetime.now(timezone.utc) + timedelta(hours=1)
        return {
            "access_key": KEY,
            "secret_key": SECRET,
            "token": f"token-{self.refreshes}",
            "expiry_time": expiry.isoformat(),
        }

    def _refresh(self) -> dict[str, str]:
        self.refreshes += 1
        return self._metadata()

    def load(self) -> RefreshableCredentials:
        return RefreshableCredentials.create_from_metadata(
            self._metadata(), self._refresh, self.METHOD
        )


async def test_expired_token_refreshes_once_and_retries(fault_server: FaultServer) -> None:
    provider = CountingProvider()
    session = botocore.session.Session()
    session.get_component("credential_provider").insert_before("env", provider)
    async with GlueSessionClient(
        endpoint_url=fault_server.url,
        region="us-east-1",
        botocore_session=session,
        sleep=InstantSleep(),
    ) as glue:
        fault_server.script([expired_token(), ok()])
        assert (await glue.get_session("s-1")).id == "s-1"
        assert provider.refreshes == 1 and fault_server.count == 2
        tokens = [r.headers["X-Amz-Security-Token"] for r in fault_server.requests]
        assert tokens == ["token-0", "token-1"]  # the retry went out with the new token
        fault_server.script([expired_token(), expired_token(), ok()])
        with pytest.raises(errors.GlueError) as info:
            await glue.get_session("s-2")
    assert info.value.code == "ExpiredTokenException"
    assert provider.refreshes == 2


# --- cancellation ---------------------------------------------------------------------------------


async def cancel_after(coro: Awaitable[Any], seconds: float) -> None:
    task = asyncio.ensure_future(coro)
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cancel_during_read(glue: GlueSessionClient, fault_server: FaultServer) -> None:
    fault_server.default = stall(5)
    await cancel_after(glue.get_session("s-1"), 0.1)
    assert fault_server.count == 1
    assert_no_leaks(glue)


async def test_cancel_during_send(glue: GlueSessionClient, fault_server: FaultServer) -> None:
    await cancel_after(glue.get_session("s-1"), 0)
    assert_no_leaks(glue)


async def test_cancel_during_backoff_sleep(fault_server: FaultServer) -> None:
    fault_server.default = throttle()
    sleeping = asyncio.Event()

    async def endless_sleep(seconds: float) -> None:
        sleeping.set()
        await asyncio.Event().wait()

    async with client(fault_server.url, sleep=endless_sleep) as glue:
        call = asyncio.ensure_future(glue.get_session("s-1"))
        await asyncio.wait_for(sleeping.wait(), 5)
        await cancel_after(call, 0)
        assert fault_server.count == 1
        assert_no_leaks(glue)
    await asyncio.sleep(0)
    stray = [t for t in asyncio.all_tasks() if "get_session" in repr(t.get_coro())]
    assert stray == []


# --- logging --------------------------------------------------------------------------------------


async def test_debug_line_per_attempt_without_secrets(
    glue: GlueSessionClient, fault_server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    fault_server.script([throttle(), reset_before_headers(), ok()])
    with caplog.at_level(logging.DEBUG, logger="aioglue_session"):
        await glue.get_session("s-1")
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("aioglue_session")]
    assert len(lines) == 3
    assert re.search(
        r"attempt 1: HTTP 400 ThrottlingException request_id=[0-9a-f-]{36}; retrying in 0\.\d+s",
        lines[0],
    )
    assert re.search(r"attempt 2: ConnectionClosedError; retrying in", lines[1])
    assert re.search(r"attempt 3: HTTP 200 OK request_id=", lines[2])
    text = caplog.text
    assert SECRET not in text and "Signature=" not in text


# --- adaptive mode --------------------------------------------------------------------------------


async def test_adaptive_mode_settles_near_the_servers_rate(fault_server: FaultServer) -> None:
    limit = 20.0
    fault_server.throttle_above(limit, burst=2)
    async with client(fault_server.url, retry=RetryConfig(mode="adaptive", max_attempts=3)) as glue:
        assert glue.retry_mode == "adaptive"
        assert glue.send_rate is None  # not limiting until the first throttle
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 7.0
        counter = iter(range(100000))

        async def worker() -> None:
            while loop.time() < deadline:
                with contextlib.suppress(errors.ThrottlingException):
                    await glue.get_session(f"s-{next(counter)}")

        await asyncio.gather(*(worker() for _ in range(16)))
        rate = glue.send_rate  # throttling switched the client-side limiter on
        assert rate is not None and 0.4 * limit <= rate <= 2.0 * limit
        assert_no_leaks(glue)
    # Over the last 3 seconds the client sent under the limit, and not far under it. botocore's
    # adaptive algorithm itself settles at 0.4-0.8 of an endpoint's limit (benchmarks/adaptive.py
    # measures 0.46-0.97), so the lower bound is 0.3, not 0.5: at 0.5 this failed whenever a
    # loaded CI machine (jobs side by side) delayed the limiter's sleeps.
    end = fault_server.requests[-1].at
    recent = [r for r in fault_server.requests if r.at >= end - 3.0]
    sent = len(recent) / 3.0
    assert 0.3 * limit <= sent <= 1.5 * limit
    # (Standard mode under the same load sends as fast as 16 workers can, far above the limit.)
    assert fault_server.throttled_count < 0.5 * fault_server.count
