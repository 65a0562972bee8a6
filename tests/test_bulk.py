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


# --- a bare string, and failures of the client rather than of an id ------------------------------


@pytest.mark.parametrize("bad", ["abc", b"abc", bytearray(b"abc")], ids=type)
async def test_a_bare_string_is_refused_when_called_not_when_iterated(bad: Any) -> None:
    fetched: list[str] = []

    async def fetch(session_id: str) -> Session:
        fetched.append(session_id)
        return Session(id=session_id)

    # No `async for`, no `anext`: the call itself raises.
    with pytest.raises(TypeError, match=rf"not a single {type(bad).__name__}"):
        iter_session_results(fetch, bad, concurrency=4)
    assert fetched == []


async def test_get_sessions_abc_raises_type_error_before_any_lookup(
    counting_server: tuple[CountingServer, str],
) -> None:
    server, url = counting_server
    async with local_client(url) as glue:
        with pytest.raises(TypeError, match="not a single str"):
            glue.get_sessions("abc")
        with pytest.raises(TypeError, match="not a single bytes"):
            glue.get_sessions(b"abc")  # type: ignore[arg-type]
        # One id in a list is fine.
        assert [r.id async for r in glue.get_sessions(["abc"])] == ["abc"]
    assert server.count == 1


async def test_something_not_iterable_is_refused_when_called() -> None:
    async def fetch(session_id: str) -> Session:
        return Session(id=session_id)

    with pytest.raises(TypeError, match="iterable"):
        iter_session_results(fetch, 42, concurrency=4)  # type: ignore[arg-type]


def client_failures() -> list[BaseException]:
    import botocore.exceptions as bx

    from aioglue_session.credentials import NoCredentialsFoundError

    return [
        bx.NoCredentialsError(),
        NoCredentialsFoundError(where="env, shared files"),
        bx.NoRegionError(),
        bx.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
        bx.CredentialRetrievalError(provider="sso", error_msg="expired"),
        bx.TokenRetrievalError(provider="sso", error_msg="expired"),
        bx.SSOTokenLoadError(error_msg="run aws sso login"),
        bx.UnauthorizedSSOTokenError(),
        errors.ClientClosedError("this GlueSessionClient is closed"),
    ]


@pytest.mark.parametrize("failure", client_failures(), ids=lambda e: type(e).__name__)
async def test_a_client_failure_is_raised_once_not_repeated_per_id(failure: Exception) -> None:
    calls: list[str] = []
    source_closed = False

    async def fetch(session_id: str) -> Session:
        calls.append(session_id)
        await asyncio.sleep(0.001)
        raise failure

    async def ids() -> AsyncIterator[str]:
        nonlocal source_closed
        try:
            for i in range(200):
                yield f"id-{i}"
        finally:
            source_closed = True

    before = asyncio.all_tasks()
    got: list[Any] = []
    with pytest.raises(type(failure)) as caught:
        async for result in iter_session_results(fetch, ids(), concurrency=8):
            got.append(result)
    assert caught.value is failure
    assert got == []  # not one result per id, not even one
    # Only the first round of workers ever called fetch; nobody took another id after.
    assert 1 <= len(calls) <= 8
    assert source_closed
    assert asyncio.all_tasks() == before


async def test_a_client_failure_cancels_lookups_in_flight_and_closes_a_sync_generator() -> None:
    cancelled: list[str] = []
    source_closed = False

    async def fetch(session_id: str) -> Session:
        if session_id == "id-3":
            await asyncio.sleep(0.01)
            raise errors.NoCredentialsError()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(session_id)
            raise
        return Session(id=session_id)

    def ids() -> Any:
        nonlocal source_closed
        try:
            yield from (f"id-{i}" for i in range(100))
        finally:
            source_closed = True

    before = asyncio.all_tasks()
    with pytest.raises(errors.NoCredentialsError):
        async for _ in iter_session_results(fetch, ids(), concurrency=5):
            pass
    assert sorted(cancelled) == ["id-0", "id-1", "id-2", "id-4"]
    assert source_closed
    assert asyncio.all_tasks() == before


@pytest.mark.parametrize(
    "error",
    [
        errors.EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
        errors.ReadTimeoutError(endpoint_url="http://127.0.0.1:9"),
        errors.AccessDeniedException({"Error": {"Code": "AccessDeniedException"}}),
        errors.ParamValidationError(report="bad id"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_an_id_failure_stays_that_ids_result(error: Exception) -> None:
    async def fetch(session_id: str) -> Session:
        if session_id == "bad":
            raise error
        return Session(id=session_id)

    results = {r.id: r async for r in iter_session_results(fetch, ["a", "bad", "b"], concurrency=2)}
    assert set(results) == {"a", "bad", "b"}
    assert results["bad"].error is error
    assert results["a"].ok and results["b"].ok


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Nothing in botocore's credential chain: no env keys, empty files, no IMDS."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    (tmp_path / "config").write_text("")
    (tmp_path / "credentials").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.usefixtures("no_credentials")
async def test_no_credentials_is_raised_once_and_nothing_is_sent(
    counting_server: tuple[CountingServer, str],
) -> None:
    server, url = counting_server
    got: list[Any] = []
    async with GlueSessionClient(endpoint_url=url, region="us-east-1") as glue:
        with pytest.raises(errors.NoCredentialsError) as caught:
            async for result in glue.get_sessions([f"id-{i}" for i in range(200)]):
                got.append(result)
    assert got == []
    assert "Unable to locate credentials" in str(caught.value)
    assert server.count == 0


async def test_closing_the_client_mid_iteration_raises_client_closed_once(
    counting_server: tuple[CountingServer, str],
) -> None:
    server, url = counting_server
    server.delay = 0.2
    before = asyncio.all_tasks()
    glue = local_client(url)
    await glue.open()
    got: list[str] = []
    results = glue.get_sessions((f"id-{i}" for i in range(100)), concurrency=4)
    with pytest.raises(errors.ClientClosedError):
        async for result in results:
            got.append(result.id)
            if len(got) == 1:
                await glue.close()  # the other three lookups are in flight now
    assert len(got) == 1  # neither the lookups cut short nor the ids left became results
    assert server.count <= 2 * 4  # the first round, and the round in flight at the close
    # (The server's own handlers are still sleeping; only the client's side must be gone.)
    client_side = {
        t
        for t in asyncio.all_tasks() - before
        if "RequestHandler" not in t.get_coro().__qualname__  # type: ignore[union-attr]
    }
    assert client_side == set()
