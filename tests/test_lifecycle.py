"""The client's life cycle: opening, using, closing, and closing while calls run."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faultserver import FaultServer, ok, stall, throttle

from aioglue_session import GlueSessionClient, Session, errors

KEY, SECRET = "AKIDLIFECYCLE", "lifecycle-secret"


def client(url: str, **kw: Any) -> GlueSessionClient:
    return GlueSessionClient(
        endpoint_url=url,
        region="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        **kw,
    )


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
    assert glue.transport.closed  # type: ignore[attr-defined]
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
    # A failure of the client, not of an id: raised once out of the iterator, not 50 times.
    with pytest.raises(errors.ClientClosedError):
        await asyncio.wait_for(consumer, 5)
    assert results == []
    stray = [t for t in asyncio.all_tasks() if "worker" in repr(t.get_coro())]
    assert stray == []


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


async def test_client_must_be_opened_and_close_is_idempotent() -> None:
    glue = client("http://127.0.0.1:9")
    with pytest.raises(errors.ClientClosedError, match="not open"):
        await glue.get_session("s-1")
    await glue.close()
    await glue.close()
    with pytest.raises(errors.ClientClosedError, match="closed"):
        await glue.get_session("s-1")


def test_constructor_arguments_are_keyword_only_and_checked() -> None:
    with pytest.raises(TypeError):
        GlueSessionClient("eu-west-1")  # type: ignore[misc]
    with pytest.raises(ValueError, match="http"):
        GlueSessionClient(endpoint_url="ftp://example.com")
    with pytest.raises(errors.PartialCredentialsError):
        GlueSessionClient(aws_access_key_id="AKID")
    # Keys are strings: bytes or a number would only sign garbage later.
    with pytest.raises(TypeError, match="aws_secret_access_key must be a str, not bytes"):
        GlueSessionClient(aws_access_key_id="AKID", aws_secret_access_key=b"secret")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="aws_session_token must be a str, not int"):
        GlueSessionClient(aws_access_key_id="A", aws_secret_access_key="s", aws_session_token=5)  # type: ignore[arg-type]


def test_importing_the_package_leaves_botocores_heavy_parts_to_the_start_up_thread() -> None:
    # `import aioglue_session` loads aiohttp and botocore's exceptions only: botocore.session
    # (with botocore.client and its docs machinery), botocore.compat and urllib3 are imported by
    # a client's start-up thread, off the event loop.
    import subprocess
    import sys

    code = (
        "import sys, aioglue_session\n"
        "heavy = ('botocore.session', 'botocore.client', 'botocore.compat', 'botocore.auth',\n"
        "         'botocore.credentials', 'urllib3', 'opentelemetry')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
