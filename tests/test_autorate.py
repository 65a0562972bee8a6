"""``max_rate="auto"`` end to end: the client learns an endpoint's limit from its throttling
replies, in virtual time against a scripted token-bucket endpoint (a ``MockTransport`` handler
and the client's clock/sleep seams), and once on the wire against the local throttling server.

The control loop itself is table-tested in tests/test_ratecontrol.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from conftest import assert_no_leaks
from faultserver import FaultServer
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from vtime import VirtualTime

from aioglue_session import GlueSessionClient, RetryConfig, Timeouts, errors
from aioglue_session.autorate import AutoRate
from aioglue_session.transport import MockTransport, RawReply, Request

OK_BODY = b'{"Session": {"Id": "s", "Status": "READY"}}'


def throttled_reply(code: str = "ThrottlingException", *, header: bool = False) -> RawReply:
    if header:  # the code only in x-amzn-ErrorType, as some front ends send it
        return RawReply(400, {"x-amzn-ErrorType": f"{code}:http://internal/"}, b"{}")
    body = json.dumps({"__type": f"com.amazonaws.glue#{code}", "message": "Rate exceeded"})
    return RawReply(400, {"x-amzn-RequestId": "r"}, body.encode())


class BucketEndpoint:
    """A Glue endpoint in virtual time: a token bucket of ``limit(t)`` requests/s holding a
    tenth of a second's worth, ``ThrottlingException`` above it, a round trip of ``rtt``."""

    def __init__(
        self, vt: VirtualTime, limit: Callable[[float], float], rtt: float = 0.004
    ) -> None:
        self.vt, self.limit, self.rtt = vt, limit, rtt
        self.t0 = vt.now
        self.tokens = max(limit(0.0) / 10, 1.0)
        self.at = vt.now
        #: (virtual seconds since t0, accepted?) per request.
        self.log: list[tuple[float, bool]] = []

    async def __call__(self, request: Request) -> RawReply:
        await self.vt.sleep(self.rtt / 2)
        now = self.vt.now
        t = now - self.t0
        rate = self.limit(t)
        self.tokens = min(max(rate / 10, 1.0), self.tokens + (now - self.at) * rate)
        self.at = now
        accepted = self.tokens >= 1.0
        if accepted:
            self.tokens -= 1.0
        self.log.append((t, accepted))
        await self.vt.sleep(self.rtt / 2)
        return RawReply(200, {"x-amzn-RequestId": "r"}, OK_BODY) if accepted else throttled_reply()

    def window(self, start: float, end: float) -> tuple[float, float]:
        """Goodput (accepted/s) and the throttled share of replies in [start, end)."""
        inside = [ok for t, ok in self.log if start <= t < end]
        accepted = sum(inside)
        return accepted / (end - start), (1 - accepted / len(inside)) if inside else 0.0


def steps(*changes: tuple[float, float]) -> Callable[[float], float]:
    def limit(t: float) -> float:
        return [rate for start, rate in changes if t >= start][-1]

    return limit


def make_client(transport: Any, vt: VirtualTime | None = None, **kw: Any) -> GlueSessionClient:
    if vt is not None:
        kw.update(clock=vt.clock, sleep=vt.sleep)
    return GlueSessionClient(
        region="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        transport=transport,
        **kw,
    )


async def run_bulk(
    glue: GlueSessionClient,
    vt: VirtualTime,
    seconds: float,
    workers: int = 32,
    sample: Callable[[float], None] | None = None,
) -> tuple[int, int]:
    """``workers`` callers looking up ids for ``seconds`` of virtual time: (ok, failed for
    throttling)."""
    end = vt.now + seconds
    counter = itertools.count()
    ok = failed = 0

    async def worker() -> None:
        nonlocal ok, failed
        while vt.now < end:
            try:
                await glue.get_session(f"s-{next(counter)}")
                ok += 1
            except errors.ThrottlingException:
                failed += 1

    async def sampler() -> None:
        while vt.now < end:
            assert sample is not None
            sample(vt.now)
            await vt.sleep(0.05)

    tasks = [worker() for _ in range(workers)]
    if sample is not None:
        tasks.append(sampler())
    await asyncio.gather(*tasks)
    return ok, failed


# --- in virtual time ------------------------------------------------------------------------------


async def test_auto_learns_a_stepped_limit_200_80_250() -> None:
    vt = VirtualTime()
    endpoint = BucketEndpoint(vt, steps((0.0, 200.0), (10.0, 80.0), (20.0, 250.0)))
    rates: list[tuple[float, float]] = []
    async with make_client(MockTransport(endpoint), vt, max_rate="auto") as glue:
        t0 = vt.now
        assert glue.send_rate == 10.0  # where it starts, before any reply
        _, failed = await run_bulk(
            glue, vt, 30.0, sample=lambda now: rates.append((now - t0, glue.send_rate or 0.0))
        )
        assert_no_leaks(glue)
    assert failed == 0  # no call ran out of attempts on throttling
    for start, end, limit in [(3.0, 10.0, 200.0), (13.0, 20.0, 80.0), (23.0, 30.0, 250.0)]:
        goodput, throttled = endpoint.window(start, end)
        assert goodput >= 0.9 * limit, (start, goodput)
        assert throttled <= 0.02, (start, throttled)
        # glue.send_rate is the learned rate, and it follows the limit within a bound.
        learned = [rate for t, rate in rates if start + 0.5 <= t < end]
        assert 0.8 * limit <= min(learned) and max(learned) <= 1.7 * limit, (start, learned)


async def test_auto_at_a_steady_limit_with_few_callers() -> None:
    # Eight callers, a 20 ms round trip: at most 400/s on offer against a limit of 60/s.
    vt = VirtualTime()
    endpoint = BucketEndpoint(vt, steps((0.0, 60.0)), rtt=0.02)
    async with make_client(MockTransport(endpoint), vt, max_rate="auto") as glue:
        _, failed = await run_bulk(glue, vt, 20.0, workers=8)
        learned = glue.send_rate
    assert failed == 0
    goodput, throttled = endpoint.window(4.0, 20.0)
    assert goodput >= 0.9 * 60 and throttled <= 0.02
    assert learned is not None and 0.8 * 60 <= learned <= 1.7 * 60


async def test_without_auto_the_same_load_is_throttled_hard() -> None:
    # The contrast that makes the tests above mean something: standard retries, no max_rate,
    # 32 callers: most replies are throttled and calls run out of attempts.
    vt = VirtualTime()
    endpoint = BucketEndpoint(vt, steps((0.0, 60.0)))
    async with make_client(MockTransport(endpoint), vt) as glue:
        _, failed = await run_bulk(glue, vt, 5.0)
    _, throttled = endpoint.window(1.0, 5.0)
    assert throttled > 0.3 and failed > 0


async def test_auto_paces_with_the_token_bucket_from_the_start() -> None:
    # No throttling at all: the rate starts at 10/s and doubles every quarter second while it
    # is used, so the first second sends dozens of requests, not the thousands 32 callers could.
    vt = VirtualTime()
    endpoint = BucketEndpoint(vt, steps((0.0, 1e6)))
    async with make_client(MockTransport(endpoint), vt, max_rate="auto") as glue:
        await run_bulk(glue, vt, 1.0)
        assert glue.send_rate is not None and 80 <= glue.send_rate <= 250
    first_second = [t for t, _ in endpoint.log if t < 1.0]
    assert 40 <= len(first_second) <= 200


@pytest.mark.parametrize(
    "reply",
    [
        throttled_reply("ThrottlingException"),
        throttled_reply("TooManyRequestsException"),
        throttled_reply("RequestLimitExceeded", header=True),
    ],
    ids=["ThrottlingException", "TooManyRequestsException", "x-amzn-ErrorType header"],
)
async def test_what_botocore_calls_throttling_cuts_the_rate(reply: RawReply) -> None:
    vt = VirtualTime()
    calls = itertools.count()

    def handler(request: Request) -> RawReply:
        # A steady second of successes, then one throttling reply.
        return reply if next(calls) == 60 else RawReply(200, {}, OK_BODY)

    async with make_client(MockTransport(handler), vt, max_rate="auto") as glue:
        for _ in range(60):
            await glue.get_session("s")
            await vt.sleep(1 / 60)
        before = glue.send_rate
        assert before is not None
        await glue.get_session("s")  # throttled once, then retried
        after = glue.send_rate
    assert after is not None and after <= 0.95 * before
    assert after == pytest.approx(0.93 * 60, rel=0.15)  # 0.93 of the accepted rate measured


async def test_other_error_replies_do_not_cut_the_rate() -> None:
    vt = VirtualTime()
    not_found = RawReply(
        400, {}, b'{"__type": "EntityNotFoundException", "message": "Session s not found"}'
    )
    async with make_client(MockTransport(lambda r: not_found), vt, max_rate="auto") as glue:
        for _ in range(40):
            with pytest.raises(errors.EntityNotFoundException):
                await glue.get_session("s")
        assert glue.send_rate is not None and glue.send_rate >= 10.0


async def test_with_adaptive_retries_both_limiters_apply() -> None:
    # botocore's adaptive limiter settles lower than the learned rate: with both, the client
    # sends at the lower of the two, so it gets less through than max_rate="auto" alone.
    results = {}
    for mode in ("standard", "adaptive"):
        vt = VirtualTime()
        endpoint = BucketEndpoint(vt, steps((0.0, 100.0)))
        retry = RetryConfig(mode=mode, max_attempts=3)  # type: ignore[arg-type]
        async with make_client(MockTransport(endpoint), vt, max_rate="auto", retry=retry) as glue:
            await run_bulk(glue, vt, 10.0)
            learned = glue.send_rate
        results[mode] = endpoint.window(4.0, 10.0)[0]
        assert learned is not None and learned >= 60  # send_rate: the learned rate, either way
    assert results["standard"] >= 90
    assert results["adaptive"] < 0.8 * results["standard"]


async def test_max_waiting_sheds_calls_waiting_for_a_learned_rate_token() -> None:
    vt = VirtualTime()
    async with make_client(
        MockTransport(lambda r: RawReply(200, {}, OK_BODY)), vt, max_rate="auto", max_waiting=2
    ) as glue:
        # The bucket starts with one token (at 10/s it holds max(1, 0.05 s worth)): one call
        # goes at once, two wait, and the fourth is refused without sending anything.
        tasks = [asyncio.ensure_future(glue.get_session("s")) for _ in range(3)]
        for _ in range(5):
            await asyncio.sleep(0)
        with pytest.raises(errors.ClientBusyError):
            await glue.get_session("s")
        await asyncio.gather(*tasks)
        assert len(glue.transport.requests) == 3  # type: ignore[attr-defined]


async def test_calls_already_waiting_follow_a_new_rate_at_once() -> None:
    # 40 calls wait in line at 200/s; 0.05 s in, the rate is cut to 50/s: the calls still
    # waiting go at 50/s from then on, not at the 200/s they lined up at (and when it rises
    # again they speed up within a nap).
    vt = VirtualTime()
    bucket = AutoRate(clock=vt.clock)
    bucket.rate = 200.0
    t0 = vt.now
    starts: list[float] = []

    async def call() -> None:
        if not bucket.try_take():
            assert await bucket.wait(vt.sleep)
        starts.append(vt.now - t0)

    async def cut_then_raise() -> None:
        await vt.sleep(0.05)
        bucket.rate = 50.0
        await vt.sleep(0.2)
        bucket.rate = 400.0

    await asyncio.gather(cut_then_raise(), *(call() for _ in range(40)))
    assert len([t for t in starts if t <= 0.05 + 1e-9]) <= 11  # about 200/s until the cut
    cut = [t for t in starts if 0.05 < t <= 0.25 + 1e-9]
    assert 8 <= len(cut) <= 11  # 50/s for 0.2 s: ten, not forty
    assert max(starts) <= 0.25 + 0.06 + 25 / 400  # the rest at 400/s, within a nap


async def test_the_burst_is_a_twentieth_of_a_second() -> None:
    # After an idle spell the learned-rate bucket lets max(1, 0.05 s worth) go at once, not a
    # second's worth as a fixed max_rate does: bursts are what an endpoint throttles first.
    vt = VirtualTime()
    bucket = AutoRate(clock=vt.clock)
    bucket.rate = 200.0
    await vt.sleep(5.0)
    taken = 0
    while bucket.try_take():
        taken += 1
    assert taken == 10


async def test_a_total_timeout_ends_the_wait_for_a_learned_rate_token() -> None:
    vt = VirtualTime()
    async with make_client(
        MockTransport(lambda r: RawReply(200, {}, OK_BODY)),
        vt,
        max_rate="auto",
        timeouts=Timeouts(total=0.05),
    ) as glue:
        await glue.get_session("s")  # the one token the bucket starts with
        start = vt.now
        # The next token is 0.1 s away at 10/s: past the call's 0.05 s, so it fails without
        # waiting for it (a retry's short backoff aside) and without sending.
        with pytest.raises(ReadTimeoutError):
            await glue.get_session("s")
        assert vt.now - start <= 0.05
        assert len(glue.transport.requests) == 1  # type: ignore[attr-defined]
        # Its place was handed back: 0.1 s later the next token is there, and a call goes at
        # once (it would wait another 0.1 s behind a place kept by the call that gave up).
        await vt.sleep(0.1)
        before = vt.now
        await glue.get_session("s")
        assert vt.now == before
        assert len(glue.transport.requests) == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["fast", "AUTO", ""])
def test_max_rate_strings_other_than_auto_are_refused(value: str) -> None:
    with pytest.raises(TypeError, match='number of requests per second or "auto"'):
        GlueSessionClient(region="us-east-1", max_rate=value)  # type: ignore[arg-type]


async def test_the_learned_rate_is_an_opentelemetry_gauge() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])

    def points() -> list[Any]:
        data = reader.get_metrics_data()
        return [
            point
            for resource in (data.resource_metrics if data is not None else ())
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == "aioglue_session.auto.send_rate"
            for point in metric.data.data_points
        ]

    vt = VirtualTime()
    endpoint = BucketEndpoint(vt, steps((0.0, 100.0)))
    try:
        async with make_client(
            MockTransport(endpoint), vt, max_rate="auto", meter_provider=provider
        ) as glue:
            [start] = points()
            assert start.value == 10.0
            await run_bulk(glue, vt, 5.0)
            [learned] = points()
            assert learned.value == pytest.approx(glue.send_rate)
            assert 60 <= learned.value <= 170
            assert learned.attributes["rpc.method"] == "GetSession"
        assert points() == []  # closed: no longer observed
        # A client with a fixed max_rate has no learned rate to report.
        async with make_client(
            MockTransport(endpoint), vt, max_rate=50, meter_provider=provider
        ) as glue:
            await glue.get_session("s")
            assert points() == []
    finally:
        provider.shutdown()


# --- on the wire -------------------------------------------------------------------------------


async def test_on_the_wire_against_a_throttling_endpoint() -> None:
    limit = 50.0
    async with FaultServer(record=False) as server:
        server.throttle_schedule([(0.0, limit)])
        async with GlueSessionClient(
            endpoint_url=server.url,
            region="us-east-1",
            aws_access_key_id="AKIDWIRE",
            aws_secret_access_key="wire-secret",
            max_rate="auto",
            max_connections=16,
        ) as glue:
            loop = asyncio.get_running_loop()
            end = loop.time() + 6.0
            counter = itertools.count()
            failed = 0

            async def worker() -> None:
                nonlocal failed
                while loop.time() < end:
                    try:
                        await glue.get_session(f"w-{next(counter)}")
                    except errors.ThrottlingException:
                        failed += 1

            await asyncio.gather(*(worker() for _ in range(16)))
            learned = glue.send_rate
            assert_no_leaks(glue)
    # The last three seconds, from the server's own counts (0.1 s slots).
    accepted = sum(ok for slot, (ok, _) in server.timeline.items() if 30 <= slot < 60)
    throttled = sum(bad for slot, (_, bad) in server.timeline.items() if 30 <= slot < 60)
    assert failed == 0
    # The >= 0.9 x limit target is held in virtual time (test_ratecontrol.py's simulation) and
    # measured by benchmarks/adaptive.py; on the wire, a CI machine running jobs side by side can
    # starve this one process of CPU (at a load of 17 on 2 CPUs it sent 38/s), so the bound here
    # is that the learned rate works, not the goodput target.
    assert accepted / 3.0 >= 0.6 * limit
    assert throttled / (accepted + throttled) <= 0.05  # 2% is the target; slack for a busy CI
    assert learned is not None and 0.7 * limit <= learned <= 1.7 * limit
