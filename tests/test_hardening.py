"""Hostile replies, hostile inputs, shutdown: typed errors, bounded memory, nothing leaked."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

import pytest
from faultserver import FaultServer, huge, ok, raw, stall, throttle

from aioglue_session import GlueSessionClient, Session, errors
from aioglue_session.testing import local_glue

KEY, SECRET = "AKIDHARDEN", "harden-secret"


def client(url: str, **kw: Any) -> GlueSessionClient:
    return GlueSessionClient(
        endpoint_url=url,
        region="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        **kw,
    )


def no_connections(glue: GlueSessionClient) -> bool:
    assert glue._http is not None and glue._http.connector is not None
    return len(glue._http.connector._acquired) == 0  # type: ignore[attr-defined]


# --- reply size cap -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        huge(5 * 1024 * 1024),  # chunked, no length
        raw(
            200,
            {"Content-Type": "application/x-amz-json-1.1"},
            b"{" + b" " * (2 * 1024 * 1024) + b"}",
        ),
        raw(
            200,
            {"Content-Type": "application/x-amz-json-1.1", "Content-Encoding": "gzip"},
            gzip.compress(
                b'{"Session": {"Id": "x", "Description": "' + b"A" * (50 * 1024 * 1024) + b'"}}'
            ),
        ),
    ],
    ids=["chunked", "content-length", "gzip-bomb"],
)
async def test_oversized_replies_are_refused(fault_server: FaultServer, action: Any) -> None:
    fault_server.script([action])
    async with client(fault_server.url, max_reply_bytes=1024 * 1024) as glue:
        with pytest.raises(errors.GlueError) as info:
            await glue.get_session("s-1")
        assert info.value.code == "ReplyTooLarge"
        assert info.value.status_code == 200
        assert fault_server.count == 1  # not retried
        assert no_connections(glue)
        # The client is still fine afterwards.
        assert (await glue.get_session("s-2")).id == "s-2"


async def test_gzip_reply_under_the_cap_is_read(fault_server: FaultServer) -> None:
    body = json.dumps({"Session": {"Id": "gz", "Status": "READY"}}).encode()
    fault_server.script([raw(200, {"Content-Encoding": "gzip"}, gzip.compress(body))])
    async with client(fault_server.url) as glue:
        assert (await glue.get_session("gz")).id == "gz"


async def test_default_cap_is_10_mib(fault_server: FaultServer) -> None:
    fault_server.script([huge(10 * 1024 * 1024 + 1)])
    async with client(fault_server.url) as glue:
        assert glue._max_reply_bytes == 10 * 1024 * 1024
        with pytest.raises(errors.GlueError, match="ReplyTooLarge"):
            await glue.get_session("s-1")


# --- inputs ---------------------------------------------------------------------------------------

ROUND_TRIP_IDS = [
    "with space",
    "tab\there",
    "caf\u00e9-\u4e2d\u6587-\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
    "astral-\U0001f600-\U0010fffd",
    'quote"back\\slash',
    "</Code><Code>Injected",
    "x" * 255,
    "\ufffd\ue000\ud7ff",
]


async def test_ids_round_trip_through_moto() -> None:
    async with local_glue() as server:
        await server.create_sessions(ROUND_TRIP_IDS)
        async with server.client() as glue:
            got = [(await glue.get_session(session_id)).id for session_id in ROUND_TRIP_IDS]
            results = {r.id: r async for r in glue.get_sessions(ROUND_TRIP_IDS)}
    assert got == ROUND_TRIP_IDS
    assert {k: r.session.id for k, r in results.items() if r.session} == {
        i: i for i in ROUND_TRIP_IDS
    }


@pytest.mark.parametrize(
    "hostile",
    [
        "id\r\nX-Injected: 1",
        "id\nHost: evil.example",
        "id\x00",
        "\u2028line-separator-is-fine",
    ],
)
async def test_no_input_alters_request_line_headers_or_host(
    fault_server: FaultServer, hostile: str
) -> None:
    async with client(fault_server.url) as glue:
        try:
            await glue.get_session(hostile)
            sent = True
        except errors.ParamValidationError:
            sent = False
        with pytest.raises(errors.ParamValidationError):
            await glue.get_session("ok", request_origin="origin\r\nX-Injected: 1")
    if not sent:
        assert fault_server.count == 0
        return
    received = fault_server.requests[0]
    assert received.path == "/"
    assert "X-Injected" not in received.headers
    assert received.headers["Host"] == fault_server.url.removeprefix("http://")
    assert json.loads(received.body)["Id"] == hostile


async def test_region_cannot_change_the_host() -> None:
    from botocore.exceptions import InvalidRegionError

    for region in ["us-east-1.evil.example/", "evil.example#", "x@evil.example"]:
        with pytest.raises(InvalidRegionError):
            async with GlueSessionClient(
                region=region, aws_access_key_id="A", aws_secret_access_key="s"
            ):
                pass


# --- shutdown -------------------------------------------------------------------------------------


async def test_close_fails_in_flight_calls_clearly(fault_server: FaultServer) -> None:
    fault_server.default = stall(10)
    glue = client(fault_server.url)
    await glue.open()
    calls = [asyncio.create_task(glue.get_session(f"s-{i}")) for i in range(5)]
    while fault_server.in_flight < 5:
        await asyncio.sleep(0.01)
    started = asyncio.get_running_loop().time()
    await glue.close()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert asyncio.get_running_loop().time() - started < 2
    assert all(isinstance(r, errors.ClientClosedError) for r in results), results
    assert all(not t.cancelled() for t in calls)
    assert glue._http is None
    stray = [t for t in asyncio.all_tasks() if "get_session" in repr(t.get_coro())]
    assert stray == []


async def test_close_during_backoff_sleep(fault_server: FaultServer) -> None:
    fault_server.default = throttle()
    glue = client(fault_server.url)
    await glue.open()
    call = asyncio.create_task(glue.get_session("s-1"))
    while fault_server.count < 1:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    await glue.close()
    with pytest.raises(errors.ClientClosedError):
        await call


async def test_close_ends_a_bulk_run(fault_server: FaultServer) -> None:
    fault_server.default = stall(10)
    glue = client(fault_server.url)
    await glue.open()
    results: list[Any] = []

    async def consume() -> None:
        async for result in glue.get_sessions([f"s-{i}" for i in range(50)], concurrency=5):
            results.append(result)

    consumer = asyncio.create_task(consume())
    while fault_server.in_flight < 5:
        await asyncio.sleep(0.01)
    await glue.close()
    await asyncio.wait_for(consumer, 5)
    # Every id still gets exactly one result: the in-flight ones and the rest fail clearly.
    assert len(results) == 50
    assert all(isinstance(r.error, errors.ClientClosedError) for r in results)


async def test_never_entered_or_closed_twice_is_harmless() -> None:
    glue = GlueSessionClient(region="us-east-1")
    await glue.close()
    await glue.close()
    with pytest.raises(errors.ClientClosedError, match="closed"):
        await glue.get_session("s-1")
    with pytest.raises(errors.ClientClosedError):
        async with glue:
            pass


async def test_using_a_closed_client_raises(fault_server: FaultServer) -> None:
    async with client(fault_server.url) as glue:
        await glue.get_session("s-1")
    with pytest.raises(errors.ClientClosedError, match="closed"):
        await glue.get_session("s-1")
    with pytest.raises(errors.ClientClosedError):
        glue.get_sessions(["a"])
    with pytest.raises(errors.ClientClosedError):
        await glue.wait_for_session("s-1")
    fault_server.default = ok()


async def test_user_http_session_survives_client_close(fault_server: FaultServer) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with client(fault_server.url, http_session=http) as glue:
            assert isinstance(await glue.get_session("s-1"), Session)
        assert not http.closed
        async with http.post(fault_server.url, data=b'{"Id": "direct"}') as resp:
            assert resp.status == 200
