"""Shared fresh reads (``max_age``): remembered sessions, one request per herd, the LRU bound,
errors, cancellation and the span attribute. Time is virtual (the client's clock/sleep seams);
replies come from a ``MockTransport`` whose handler can hold requests open."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from vtime import VirtualTime

from aioglue_session import GlueSessionClient, Session, errors
from aioglue_session.transport import MockTransport, RawReply, Request


class Glue:
    """A MockTransport endpoint: sessions by id, optionally held until ``release``."""

    def __init__(self) -> None:
        self.status: dict[str, str] = {}
        self.errors: dict[str, tuple[int, str, str]] = {}
        self.gate: asyncio.Event | None = None
        self.started = 0
        self.cancelled = 0
        self.transport = MockTransport(self.handle)

    def hold(self) -> None:
        self.gate = asyncio.Event()

    def release(self) -> None:
        assert self.gate is not None
        self.gate.set()

    @property
    def requests(self) -> list[Request]:
        return self.transport.requests

    def ids(self) -> list[str]:
        return [json.loads(r.body)["Id"] for r in self.requests]

    async def handle(self, request: Request) -> RawReply:
        self.started += 1
        body = json.loads(request.body)
        if self.gate is not None:
            try:
                await self.gate.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        sid = body["Id"]
        if sid in self.errors:
            status, code, message = self.errors[sid]
            reply = {"__type": code, "message": message}
            return RawReply(status, {"x-amzn-RequestId": "r-err"}, json.dumps(reply).encode())
        if sid not in self.status:
            reply = {"__type": "EntityNotFoundException", "message": f"Session {sid} not found"}
            return RawReply(400, {"x-amzn-RequestId": "r-nf"}, json.dumps(reply).encode())
        session = {"Id": sid, "Status": self.status[sid]}
        if "RequestOrigin" in body:
            session["Description"] = body["RequestOrigin"]
        return RawReply(
            200,
            {"x-amzn-RequestId": f"r-{self.started}"},
            json.dumps({"Session": session}).encode(),
        )


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def endpoint() -> Glue:
    g = Glue()
    g.status.update({f"s{i}": "READY" for i in range(10)})
    return g


def make_client(endpoint: Glue, vt: VirtualTime, **kw: Any) -> GlueSessionClient:
    return GlueSessionClient(
        region="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        transport=endpoint.transport,
        clock=vt.clock,
        sleep=vt.sleep,
        **kw,
    )


@pytest.fixture
async def glue(endpoint: Glue, vt: VirtualTime) -> AsyncIterator[GlueSessionClient]:
    async with make_client(endpoint, vt) as g:
        yield g
        assert g.calls_in_flight == 0


async def test_default_is_one_call_one_request(glue: GlueSessionClient, endpoint: Glue) -> None:
    sessions = await asyncio.gather(*(glue.get_session("s1") for _ in range(20)))
    assert len(endpoint.requests) == 20
    assert len({id(s) for s in sessions}) == 20


async def test_remembered_until_max_age_then_fetched_again(
    glue: GlueSessionClient, endpoint: Glue, vt: VirtualTime
) -> None:
    first = await glue.get_session("s1", max_age=1.0)
    assert len(endpoint.requests) == 1
    await vt.advance(0.6)
    assert await glue.get_session("s1", max_age=1.0) is first
    await vt.advance(0.4)  # exactly max_age since the request was sent: still fresh
    assert await glue.get_session("s1", max_age=1.0) is first
    assert len(endpoint.requests) == 1
    endpoint.status["s1"] = "STOPPING"
    assert (await glue.get_session("s1", max_age=5.0)).status == "READY"  # younger than 5 s
    await vt.advance(0.01)
    fresh = await glue.get_session("s1", max_age=1.0)
    assert fresh.status == "STOPPING"
    assert len(endpoint.requests) == 2
    # A call without max_age always sends, and a smaller max_age refuses an older session.
    await glue.get_session("s1")
    assert len(endpoint.requests) == 3
    await vt.advance(0.5)
    await glue.get_session("s1", max_age=0.2)
    assert len(endpoint.requests) == 4


async def test_a_herd_shares_one_request(glue: GlueSessionClient, endpoint: Glue) -> None:
    endpoint.hold()
    calls = [asyncio.ensure_future(glue.get_session("s2", max_age=1)) for _ in range(500)]
    await asyncio.sleep(0.01)
    assert endpoint.started == 1
    endpoint.release()
    sessions = await asyncio.gather(*calls)
    assert len(endpoint.requests) == 1
    assert all(s is sessions[0] for s in sessions)
    assert sessions[0] == Session(id="s2", status="READY")


async def test_max_age_zero_shares_in_flight_only(glue: GlueSessionClient, endpoint: Glue) -> None:
    endpoint.hold()
    calls = [asyncio.ensure_future(glue.get_session("s1", max_age=0)) for _ in range(5)]
    await asyncio.sleep(0.01)
    endpoint.release()
    await asyncio.gather(*calls)
    assert len(endpoint.requests) == 1
    endpoint.gate = None
    await glue.get_session("s1", max_age=0)
    assert len(endpoint.requests) == 2


async def test_request_origin_is_part_of_the_key(glue: GlueSessionClient, endpoint: Glue) -> None:
    a = await glue.get_session("s1", request_origin="a", max_age=10)
    b = await glue.get_session("s1", request_origin="b", max_age=10)
    plain = await glue.get_session("s1", max_age=10)
    assert (a.description, b.description, plain.description) == ("a", "b", None)
    assert await glue.get_session("s1", request_origin="a", max_age=10) is a
    assert len(endpoint.requests) == 3


async def test_lru_bound(endpoint: Glue, vt: VirtualTime) -> None:
    async with make_client(endpoint, vt, cache_size=2) as glue:
        await glue.get_session("s1", max_age=60)
        await glue.get_session("s2", max_age=60)
        await glue.get_session("s1", max_age=60)  # s1 used last: s2 is the oldest
        await glue.get_session("s3", max_age=60)  # s2 dropped
        assert endpoint.ids() == ["s1", "s2", "s3"]
        await glue.get_session("s1", max_age=60)
        await glue.get_session("s3", max_age=60)
        assert len(endpoint.requests) == 3
        await glue.get_session("s2", max_age=60)
        assert endpoint.ids() == ["s1", "s2", "s3", "s2"]


async def test_cache_size_zero_remembers_nothing_but_shares(
    endpoint: Glue, vt: VirtualTime
) -> None:
    async with make_client(endpoint, vt, cache_size=0) as glue:
        await glue.get_session("s1", max_age=60)
        await glue.get_session("s1", max_age=60)
        assert len(endpoint.requests) == 2
        endpoint.hold()
        calls = [asyncio.ensure_future(glue.get_session("s1", max_age=60)) for _ in range(10)]
        await asyncio.sleep(0.01)
        endpoint.release()
        await asyncio.gather(*calls)
        assert len(endpoint.requests) == 3


async def test_errors_are_shared_and_never_remembered(
    glue: GlueSessionClient, endpoint: Glue
) -> None:
    endpoint.hold()
    calls = [asyncio.ensure_future(glue.get_session("gone", max_age=60)) for _ in range(8)]
    await asyncio.sleep(0.01)
    endpoint.release()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert len(endpoint.requests) == 1
    assert all(isinstance(r, errors.EntityNotFoundException) for r in results)
    assert {(r.code, r.message) for r in results} == {  # type: ignore[union-attr]
        ("EntityNotFoundException", "Session gone not found")
    }
    with pytest.raises(errors.EntityNotFoundException):
        await glue.get_session("gone", max_age=60)
    assert len(endpoint.requests) == 2  # the error was not remembered


async def test_cancelling_one_waiter_keeps_the_request_for_the_others(
    glue: GlueSessionClient, endpoint: Glue
) -> None:
    endpoint.hold()
    first = asyncio.ensure_future(glue.get_session("s1", max_age=60))
    others = [asyncio.ensure_future(glue.get_session("s1", max_age=60)) for _ in range(3)]
    await asyncio.sleep(0.01)
    first.cancel()  # the call that started the request
    others[0].cancel()
    await asyncio.sleep(0.01)
    assert endpoint.cancelled == 0
    endpoint.release()
    sessions = await asyncio.gather(*others[1:])
    assert [s.id for s in sessions] == ["s1", "s1"]
    assert first.cancelled() and others[0].cancelled()
    assert len(endpoint.requests) == 1
    assert await glue.get_session("s1", max_age=60) is sessions[0]  # remembered


async def test_cancelling_every_waiter_cancels_the_request(
    glue: GlueSessionClient, endpoint: Glue
) -> None:
    endpoint.hold()
    calls = [asyncio.ensure_future(glue.get_session("s1", max_age=60)) for _ in range(3)]
    await asyncio.sleep(0.01)
    for call in calls:
        call.cancel()
    await asyncio.sleep(0.01)
    assert endpoint.cancelled == 1
    assert all(c.cancelled() for c in calls)
    # The next call starts a request of its own (the cancelled one is forgotten).
    endpoint.release()
    assert (await glue.get_session("s1", max_age=60)).id == "s1"
    assert endpoint.started == 2


async def test_close_ends_waiting_calls_with_client_closed(endpoint: Glue, vt: VirtualTime) -> None:
    glue = make_client(endpoint, vt)
    await glue.open()
    endpoint.hold()
    calls = [asyncio.ensure_future(glue.get_session("s1", max_age=60)) for _ in range(3)]
    await asyncio.sleep(0.01)
    await glue.close()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, errors.ClientClosedError) for r in results), results


async def test_get_sessions_passes_max_age(glue: GlueSessionClient, endpoint: Glue) -> None:
    ids = [f"s{i}" for i in range(10)]
    endpoint.hold()

    async def run() -> list[str]:
        return sorted([r.id async for r in glue.get_sessions(ids, max_age=30)])

    both = asyncio.gather(run(), run())
    await asyncio.sleep(0.01)
    endpoint.release()
    assert await both == [sorted(ids), sorted(ids)]
    assert sorted(endpoint.ids()) == sorted(ids)  # two bulk runs, one request per id


@pytest.mark.parametrize(
    ("bad", "kind"),
    [(-1, ValueError), (float("nan"), ValueError), ("1", TypeError), (True, TypeError)],
)
async def test_bad_max_age_is_refused_before_sending(
    glue: GlueSessionClient, endpoint: Glue, bad: Any, kind: type[Exception]
) -> None:
    with pytest.raises(kind, match="max_age"):
        await glue.get_session("s1", max_age=bad)
    with pytest.raises(kind, match="max_age"):
        glue.get_sessions(["s1"], max_age=bad)
    assert endpoint.requests == []


def test_bad_cache_size_is_refused() -> None:
    for bad in (-1, 1.5, None, True):
        with pytest.raises(ValueError, match="cache_size"):
            GlueSessionClient(region="us-east-1", cache_size=bad)  # type: ignore[arg-type]


async def test_spans_say_hit_and_shared(endpoint: Glue, vt: VirtualTime) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with make_client(endpoint, vt, tracer_provider=provider) as glue:
        endpoint.hold()
        calls = [asyncio.ensure_future(glue.get_session("s1", max_age=60)) for _ in range(3)]
        await asyncio.sleep(0.01)
        endpoint.release()
        await asyncio.gather(*calls)
        await glue.get_session("s1", max_age=60)
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["Glue.GetSession"] * 4
    kinds = sorted(str(s.attributes.get("aioglue_session.cache")) for s in spans)
    assert kinds == ["None", "hit", "shared", "shared"]
    requested = [s for s in spans if "aioglue_session.cache" not in s.attributes]
    assert requested[0].attributes["aws.request_id"] == "r-1"
    for span in spans:
        assert span.attributes["rpc.method"] == "GetSession"
        if "aioglue_session.cache" in span.attributes:
            assert not span.events  # no retry events
            assert "aws.request_id" not in span.attributes
