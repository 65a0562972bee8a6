"""get_sessions: exactly one result per distinct id, bounded concurrency, lazy, leak-free."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from conftest import assert_no_leaks

from aioglue_session import GlueSessionClient, Session, errors
from aioglue_session.bulk import iter_session_results
from aioglue_session.testing import local_glue
from aioglue_session.transport import AiohttpTransport, RawReply

# --- the engine on its own, with a fake fetch ----------------------------------------------------


async def test_duplicates_invalid_and_errors_each_get_one_result() -> None:
    async def fetch(session_id: str) -> Session:
        await asyncio.sleep(0)
        if session_id.startswith("missing"):
            raise errors.EntityNotFoundException({"Error": {"Code": "EntityNotFoundException"}})
        return Session(id=session_id)

    ids: list[Any] = ["a", "b", "a", "missing-1", 7, "c", "b"]
    results = [r async for r in iter_session_results(fetch, ids, concurrency=2)]
    by_id = {r.id: r for r in results}
    assert len(results) == len(by_id) == 5
    assert {k for k, r in by_id.items() if r.ok} == {"a", "b", "c"}
    assert isinstance(by_id["missing-1"].error, errors.EntityNotFoundException)
    assert isinstance(by_id["7"].error, errors.ParamValidationError)
    assert by_id["a"].session == Session(id="a")


async def test_completion_order() -> None:
    delays = {"slow": 0.05, "fast": 0.0, "mid": 0.02}

    async def fetch(session_id: str) -> Session:
        await asyncio.sleep(delays[session_id])
        return Session(id=session_id)

    order = [r.id async for r in iter_session_results(fetch, delays, concurrency=3)]
    assert order == ["fast", "mid", "slow"]


async def test_concurrency_bound_and_lazy_consumption() -> None:
    in_flight = peak = pulled = 0

    async def ids() -> AsyncIterator[str]:
        nonlocal pulled
        for i in range(200):
            pulled += 1
            yield f"id-{i}"

    async def fetch(session_id: str) -> Session:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        return Session(id=session_id)

    results = iter_session_results(fetch, ids(), concurrency=5)
    first = await anext(results)
    assert first.ok
    # Only what the workers and the result buffer can hold (2 x concurrency), never the source.
    assert pulled <= 2 * 5
    rest = [r async for r in results]
    assert len(rest) + 1 == 200 and pulled == 200
    assert peak == 5


async def test_breaking_out_cancels_in_flight_and_closes_source() -> None:
    cancelled: list[str] = []
    source_closed = False

    async def ids() -> AsyncIterator[str]:
        nonlocal source_closed
        try:
            for i in range(1000):
                yield f"id-{i}"
        finally:
            source_closed = True

    started: list[str] = []

    async def fetch(session_id: str) -> Session:
        started.append(session_id)
        try:
            await asyncio.sleep(0 if session_id == "id-0" else 10)
        except asyncio.CancelledError:
            cancelled.append(session_id)
            raise
        return Session(id=session_id)

    before = asyncio.all_tasks()
    results = iter_session_results(fetch, ids(), concurrency=8)
    async for result in results:
        assert result.id == "id-0"
        break
    await results.aclose()  # what `async for` + break leaves to the garbage collector
    # Every lookup still in flight was cancelled (at least the other 7 first ones).
    assert sorted(cancelled) == sorted(set(started) - {"id-0"})
    assert len(cancelled) >= 7
    assert source_closed
    assert asyncio.all_tasks() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
async def test_bad_concurrency(bad: Any) -> None:
    async def fetch(session_id: str) -> Session:
        return Session(id=session_id)

    with pytest.raises(ValueError, match="concurrency"):
        async for _ in iter_session_results(fetch, ["a"], concurrency=bad):
            pass


# --- through the client ---------------------------------------------------------------------------


async def test_thousand_ids_against_local_endpoint() -> None:
    async with local_glue() as server:
        existing = [f"sess-{i:04d}" for i in range(1000) if i % 3 != 0]
        await server.create_sessions(existing)
        ids: list[str] = [f"sess-{i:04d}" for i in range(1000)]
        ids += ["sess-0001", "sess-0002", "sess-0003"] * 5  # duplicates
        invalid = ["", "bad\nid", "x" * 256]
        ids += invalid
        async with server.client() as glue:
            results = [r async for r in glue.get_sessions(ids, concurrency=32)]
    assert len(results) == len(set(ids)) == 1003
    by_id = {r.id: r for r in results}
    assert len(by_id) == len(results)
    ok = {k for k, r in by_id.items() if r.ok}
    assert ok == set(existing)
    missing = {k for k, r in by_id.items() if isinstance(r.error, errors.EntityNotFoundException)}
    assert missing == {f"sess-{i:04d}" for i in range(0, 1000, 3)}
    assert {k for k, r in by_id.items() if isinstance(r.error, errors.ParamValidationError)} == set(
        invalid
    )
    assert all(by_id[k].session is not None and by_id[k].session.id == k for k in ok)  # type: ignore[union-attr]


class CountingServer:
    """A local GetSession server that counts requests in flight."""

    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.in_flight = 0
        self.peak = 0
        self.count = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.count += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        return web.json_response(
            {"Session": {"Id": body["Id"], "Status": "READY"}},
            content_type="application/x-amz-json-1.1",
        )


@pytest.fixture
async def counting_server() -> AsyncIterator[tuple[CountingServer, str]]:
    server = CountingServer()
    app = web.Application()
    app.router.add_post("/", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield server, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def local_client(url: str, **kw: Any) -> GlueSessionClient:
    return GlueSessionClient(
        endpoint_url=url,
        region="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        **kw,
    )


async def test_in_flight_never_exceeds_concurrency(
    counting_server: tuple[CountingServer, str],
) -> None:
    server, url = counting_server
    async with local_client(url) as glue:
        results = [
            r async for r in glue.get_sessions((f"id-{i}" for i in range(300)), concurrency=7)
        ]
    assert len(results) == 300 and all(r.ok for r in results)
    assert server.count == 300
    assert server.peak == 7


async def test_break_after_ten_leaves_no_task_or_connection(
    counting_server: tuple[CountingServer, str],
) -> None:
    server, url = counting_server
    server.delay = 0.05
    async with local_client(url) as glue:
        seen = 0
        results = glue.get_sessions([f"id-{i}" for i in range(500)], concurrency=20)
        async for _ in results:
            seen += 1
            if seen == 10:
                break
        await results.aclose()  # type: ignore[attr-defined]
        assert seen == 10
        lookups = [
            t
            for t in asyncio.all_tasks()
            if "worker" in t.get_coro().__qualname__  # type: ignore[union-attr]
            or t.get_coro().__qualname__ == "GlueSessionClient.get_session"  # type: ignore[union-attr]
        ]
        assert lookups == []
        assert_no_leaks(glue)
    assert server.count < 500
    await asyncio.sleep(0.1)
    assert server.in_flight == 0


async def test_request_origin_is_sent_for_every_id(
    counting_server: tuple[CountingServer, str],
) -> None:
    _, url = counting_server
    bodies: list[dict[str, str]] = []
    wire = AiohttpTransport()

    class Spy:
        """A transport that notes each body and sends it on the real one."""

        async def send(self, url: str, headers: Any, body: bytes, timeout: Any) -> RawReply:
            bodies.append(json.loads(body))
            return await wire.send(url, headers, body, timeout)

        async def aclose(self) -> None:
            await wire.aclose()

    async with local_client(url, transport=Spy()) as glue:
        results = [r async for r in glue.get_sessions(["a", "b"], request_origin="bulk-tool")]
    assert all(r.ok for r in results)
    assert sorted(b["Id"] for b in bodies) == ["a", "b"]
    assert all(b["RequestOrigin"] == "bulk-tool" for b in bodies)


async def test_a_failing_id_source_raises_to_the_consumer_and_leaks_nothing() -> None:
    async def fetch(session_id: str) -> Session:
        await asyncio.sleep(0.01)
        return Session(id=session_id)

    def ids() -> Any:
        yield "a"
        yield "b"
        raise RuntimeError("id source broke")

    before = asyncio.all_tasks()
    got: list[str] = []
    with pytest.raises(RuntimeError, match="id source broke"):
        async for result in iter_session_results(fetch, ids(), concurrency=4):
            got.append(result.id)
    assert asyncio.all_tasks() == before
    assert set(got) <= {"a", "b"}


async def test_a_slow_consumer_holds_lookups_back() -> None:
    started: list[str] = []

    async def fetch(session_id: str) -> Session:
        started.append(session_id)
        return Session(id=session_id)

    results = iter_session_results(fetch, (f"id-{i}" for i in range(100)), concurrency=4)
    await anext(results)
    for _ in range(5):
        await asyncio.sleep(0)  # give the workers every chance to run ahead
    # In flight plus delivered-but-unconsumed never exceeds 2 x `concurrency`: beyond the one
    # result consumed, at most 8 lookups were started.
    assert len(started) <= 1 + 2 * 4
    rest = [r.id async for r in results]
    assert len(rest) == 99 and len(started) == 100
