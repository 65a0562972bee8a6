"""What lets a request start: the client-wide ``max_rate`` token bucket (every attempt, retries
included), ``max_waiting`` load shedding (``ClientBusyError``), and one client per event loop.

Rates run in virtual time (the client's clock/sleep seams): the handler records the virtual time
each request started, and every window of those times is checked against the bucket's bound.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from vtime import VirtualTime

from aioglue_session import GlueSessionClient, RetryConfig, errors
from aioglue_session.ratelimit import RateLimit
from aioglue_session.transport import MockTransport, RawReply, Request

OK = RawReply(200, {"x-amzn-RequestId": "r"}, b'{"Session": {"Id": "s", "Status": "READY"}}')
THROTTLED = RawReply(
    400, {}, json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
)


def make_client(
    handler: Callable[[Request], Any], vt: VirtualTime | None = None, **kw: Any
) -> GlueSessionClient:
    if vt is not None:
        kw.update(clock=vt.clock, sleep=vt.sleep)
    return GlueSessionClient(
        region="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        transport=MockTransport(handler),
        **kw,
    )


def worst_window_excess(starts: list[float], rate: float) -> float:
    """max over every window [a, b] of starts of: count - (rate * (b - a) + max(1, rate))."""
    starts = sorted(starts)
    burst = max(1.0, rate)
    worst = -burst
    for i in range(len(starts)):
        for j in range(i, len(starts)):
            worst = max(worst, (j - i + 1) - (rate * (starts[j] - starts[i]) + burst))
    return worst


# --- max_rate -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [10.0, 2.5, 0.5])
async def test_max_rate_holds_over_every_window(rate: float) -> None:
    vt = VirtualTime()
    starts: list[float] = []

    def handler(request: Request) -> RawReply:
        starts.append(vt.now)
        return OK

    async with make_client(handler, vt, max_rate=rate) as glue:
        t0 = vt.now
        await asyncio.gather(*(glue.get_session("s") for _ in range(60)))
    assert len(starts) == 60
    assert worst_window_excess(starts, rate) <= 1e-9
    burst = max(1, int(rate))
    # Not slower than the cap either: the first max(1, rate) go at once, then one per 1/rate.
    assert starts[burst - 1] == t0
    assert starts[-1] - t0 == pytest.approx((60 - max(1.0, rate)) / rate)


async def test_max_rate_counts_retries() -> None:
    vt = VirtualTime()
    starts: list[float] = []

    def handler(request: Request) -> RawReply:
        starts.append(vt.now)
        return THROTTLED if len(starts) <= 20 else OK  # every call's first attempt throttled

    async with make_client(handler, vt, max_rate=4) as glue:
        await asyncio.gather(*(glue.get_session("s") for _ in range(20)))
    assert len(starts) == 40
    assert worst_window_excess(starts, 4.0) <= 1e-9


async def test_max_rate_with_adaptive_mode_applies_both() -> None:
    vt = VirtualTime()
    starts: list[float] = []

    def handler(request: Request) -> RawReply:
        starts.append(vt.now)
        return OK

    async with make_client(handler, vt, max_rate=5, retry=RetryConfig(mode="adaptive")) as glue:
        await asyncio.gather(*(glue.get_session("s") for _ in range(30)))
    assert worst_window_excess(starts, 5.0) <= 1e-9


async def test_rate_change_takes_effect() -> None:
    vt = VirtualTime()
    bucket = RateLimit(10, clock=vt.clock)
    taken = sum(bucket.try_take() for _ in range(20))
    assert taken == 10
    bucket.rate = 2  # capacity 2 now
    await vt.advance(10)
    assert bucket.tokens == 2.0
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(0.5)
    assert bucket.reserve(deadline=vt.now + 0.9) is None  # would need 1.0 s
    bucket.give_back()
    assert bucket.reserve() == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("bad", "kind"),
    [
        (0, ValueError),
        (-1, ValueError),
        (float("inf"), ValueError),
        ("fast", TypeError),
        (True, TypeError),
    ],
)
def test_bad_max_rate_is_refused(bad: Any, kind: type[Exception]) -> None:
    with pytest.raises(kind, match="max_rate"):
        GlueSessionClient(region="us-east-1", max_rate=bad)


async def test_total_timeout_while_waiting_for_a_token() -> None:
    vt = VirtualTime()
    from aioglue_session import Timeouts

    async with make_client(lambda r: OK, vt, max_rate=1, timeouts=Timeouts(total=2.5)) as glue:
        results = await asyncio.gather(
            *(glue.get_session("s") for _ in range(5)), return_exceptions=True
        )
    timed_out = [r for r in results if isinstance(r, errors.ReadTimeoutError)]
    assert len(timed_out) == 2  # at t0, t0+1, t0+2; the 4th and 5th would start after 2.5 s


# --- max_waiting ----------------------------------------------------------------------------------


async def test_max_waiting_sheds_calls_beyond_the_send_slots() -> None:
    gate = asyncio.Event()
    sent: list[Request] = []

    async def handler(request: Request) -> RawReply:
        sent.append(request)
        await gate.wait()
        return OK

    async with make_client(handler, max_connections=2, max_waiting=3) as glue:
        calls = [asyncio.ensure_future(glue.get_session("s")) for _ in range(10)]
        await asyncio.sleep(0.01)
        refused = [c for c in calls if c.done()]
        assert len(refused) == 5  # 2 sending, 3 waiting, 5 refused at once
        for call in refused:
            exc = call.exception()
            assert isinstance(exc, errors.ClientBusyError)
            assert not isinstance(exc, errors.GlueError)
            assert "max_waiting=3" in str(exc)
        assert len(sent) == 2
        gate.set()
        done = await asyncio.gather(*(c for c in calls if c not in refused))
        assert len(done) == 5
        assert len(sent) == 5
        # Room again: a new call waits its turn instead of being refused.
        assert (await glue.get_session("s")).id == "s"


async def test_max_waiting_zero_never_waits() -> None:
    gate = asyncio.Event()

    async def handler(request: Request) -> RawReply:
        await gate.wait()
        return OK

    async with make_client(handler, max_connections=1, max_waiting=0) as glue:
        first = asyncio.ensure_future(glue.get_session("s"))
        await asyncio.sleep(0.01)
        with pytest.raises(errors.ClientBusyError):
            await glue.get_session("s")
        gate.set()
        await first


async def test_max_waiting_counts_calls_waiting_for_a_rate_token() -> None:
    vt = VirtualTime()
    starts: list[float] = []

    def handler(request: Request) -> RawReply:
        starts.append(vt.now)
        return OK

    async with make_client(handler, vt, max_rate=1, max_waiting=2) as glue:
        results = await asyncio.gather(
            *(glue.get_session("s") for _ in range(6)), return_exceptions=True
        )
    busy = [r for r in results if isinstance(r, errors.ClientBusyError)]
    assert len(busy) == 3  # one token at once, two wait for theirs, three refused
    assert len(starts) == 3


@pytest.mark.parametrize("max_waiting", [None, 2])
async def test_max_waiting_counts_calls_waiting_for_the_adaptive_limiter(
    max_waiting: int | None,
) -> None:
    """In adaptive retry mode, once throttling has switched botocore's limiter on, a call that
    must wait for its send token counts as waiting too."""
    vt = VirtualTime()
    sent = 0

    def handler(request: Request) -> RawReply:
        nonlocal sent
        sent += 1
        return THROTTLED if sent <= 3 else OK

    retry = RetryConfig(mode="adaptive", max_attempts=5)
    async with make_client(handler, vt, retry=retry, max_waiting=max_waiting) as glue:
        await glue.get_session("s")  # throttled, then retried: the limiter is on, at a low rate
        assert glue.send_rate is not None and glue.send_rate < 5
        before = sent
        results = await asyncio.gather(
            *(glue.get_session("s") for _ in range(10)), return_exceptions=True
        )
    busy = [r for r in results if isinstance(r, errors.ClientBusyError)]
    done = [r for r in results if not isinstance(r, BaseException)]
    if max_waiting is None:
        assert (len(busy), len(done), sent - before) == (0, 10, 10)
    else:
        # The bucket may hold a token for the first; then two may wait; the rest are refused.
        assert len(busy) >= 10 - 3 and len(done) == 10 - len(busy)
        assert sent - before == len(done)


async def test_client_busy_is_never_retried() -> None:
    gate = asyncio.Event()
    sent = 0

    async def handler(request: Request) -> RawReply:
        nonlocal sent
        sent += 1
        await gate.wait()
        return OK

    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    async with make_client(handler, max_connections=1, max_waiting=0, sleep=sleep) as glue:
        first = asyncio.ensure_future(glue.get_session("s"))
        await asyncio.sleep(0.01)
        with pytest.raises(errors.ClientBusyError):
            await glue.get_session("s")
        assert sleeps == [] and sent == 1
        gate.set()
        await first


def test_bad_max_waiting_is_refused() -> None:
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(ValueError, match="max_waiting"):
            GlueSessionClient(region="us-east-1", max_waiting=bad)  # type: ignore[arg-type]


# --- one client per loop --------------------------------------------------------------------------


async def test_a_call_from_another_loop_is_refused_and_the_client_keeps_working() -> None:
    sent: list[Request] = []

    def handler(request: Request) -> RawReply:
        sent.append(request)
        return OK

    async with make_client(handler) as glue:
        outcome: dict[str, BaseException] = {}

        def other_thread() -> None:
            async def calls() -> None:
                for name, call in (
                    ("get_session", lambda: glue.get_session("s")),
                    ("max_age", lambda: glue.get_session("s", max_age=5)),
                    ("wait", lambda: glue.wait_for_session("s")),
                ):
                    try:
                        await call()
                    except BaseException as exc:
                        outcome[name] = exc
                try:
                    glue.get_sessions(["s"])
                except BaseException as exc:
                    outcome["get_sessions"] = exc
                try:
                    await glue.close()
                except BaseException as exc:
                    outcome["close"] = exc

            asyncio.run(calls())

        thread = threading.Thread(target=other_thread)
        thread.start()
        await asyncio.to_thread(thread.join)
        assert sorted(outcome) == ["close", "get_session", "get_sessions", "max_age", "wait"]
        for exc in outcome.values():
            assert type(exc) is RuntimeError
            assert "one client per event loop" in str(exc)
        assert sent == []
        assert (await glue.get_session("s")).id == "s"
        assert len(sent) == 1
        assert glue.calls_in_flight == 0


def test_a_client_outliving_its_loop_says_so() -> None:
    """A module-level client under per-test loops: the second loop's call gets a clear error,
    and closing it from there is allowed (its loop, connections and calls are gone)."""
    sent: list[Request] = []
    glue = make_client(lambda r: sent.append(r) or OK)

    async def first() -> str:
        await glue.open()
        return (await glue.get_session("s")).id

    assert asyncio.run(first()) == "s"

    async def second() -> None:
        with pytest.raises(RuntimeError, match="opened in another event loop"):
            await glue.get_session("s")
        await glue.close()
        with pytest.raises(errors.ClientClosedError):
            await glue.get_session("s")

    asyncio.run(second())
    assert len(sent) == 1
