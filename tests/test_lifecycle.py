"""The client's life cycle: opening, using, closing, and closing while calls run."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
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


IMPORT_PROBE = r"""
import asyncio, json, os, sys, threading

mode = sys.argv[1]
if mode == "one-cpu":
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
elif mode == "two-cpus":
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:2]))
elif mode == "aiohttp-first":
    import aiohttp
elif mode == "no-helper-thread":
    start = threading.Thread.start

    def refuse_the_helper(thread):
        if thread.name == "aioglue-session-imports":
            raise RuntimeError("can't start new thread")
        return start(thread)

    threading.Thread.start = refuse_the_helper

first_thread = {}


class Recorder:  # which thread first looked each module up (finds nothing itself)
    def find_spec(self, name, path, target=None):
        first_thread.setdefault(name, threading.current_thread().name)
        if (mode == "helper-fails" and name == "botocore.auth"
                and threading.current_thread().name == "aioglue-session-imports"):
            raise ImportError("botocore.auth refused to the helper")
        return None


class MetaPath(list):  # counts what would shift the finders under a thread that is importing
    shifts = 0

    def insert(self, index, finder):
        MetaPath.shifts += 1
        super().insert(index, finder)

    def remove(self, finder):
        MetaPath.shifts += 1
        super().remove(finder)

    def pop(self, index=-1):
        MetaPath.shifts += 1
        return super().pop(index)

    def __delitem__(self, index):
        MetaPath.shifts += 1
        super().__delitem__(index)


sys.meta_path = MetaPath([Recorder(), *sys.meta_path])
import aioglue_session

watched = ("botocore.auth", "botocore.awsrequest", "urllib3", "cattrs", "aiohttp.connector")
heavy = ("botocore.session", "botocore.client", "botocore.credentials", "opentelemetry")
after_import = {
    "threads": threading.active_count(),
    "meta_path_shifts": MetaPath.shifts,
    "loaded": sorted(m for m in watched if m in sys.modules),
    "heavy": sorted(m for m in sys.modules if m.startswith(heavy)),
}
from aioglue_session import GlueSessionClient
from aioglue_session.transport import MockTransport, RawReply


def handler(request):
    return RawReply(200, {"x-amzn-RequestId": "rid"}, b'{"Session": {"Id": "s-1"}}')


async def main():
    async with GlueSessionClient(
        region="us-east-1", aws_access_key_id="AKIDCOLD", aws_secret_access_key="cold-secret",
        transport=MockTransport(handler),
    ) as glue:
        return (await glue.get_session("s-1")).id


print(json.dumps({
    **after_import,
    "id": asyncio.run(main()),
    "imported_by": {m: first_thread.get(m) for m in watched},
    "heavy_after_lookup": sorted(m for m in sys.modules if m.startswith(heavy)),
}))
"""


def import_probe(mode: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OTEL_"))}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


@pytest.mark.skipif(cpus() < 2, reason="needs two CPUs")
def test_import_loads_botocores_signer_and_cattrs_in_a_helper_beside_aiohttps_ssl_setup() -> None:
    # With two CPUs, botocore's signer and retry modules (and urllib3 under them) and cattrs are
    # imported by a helper thread started as aiohttp.connector starts (see _preload); it is
    # joined before the import returns. botocore.session, botocore.client, botocore.credentials
    # and OpenTelemetry are still never imported for explicit keys.
    result = import_probe("two-cpus")
    helper = "aioglue-session-imports"
    assert result["threads"] == 1
    # The helper watches sys.modules: nothing is put in sys.meta_path and taken out again,
    # which could make another importing thread skip a finder (ModuleNotFoundError).
    assert result["meta_path_shifts"] == 0
    assert result["loaded"] == [
        "aiohttp.connector",
        "botocore.auth",
        "botocore.awsrequest",
        "cattrs",
        "urllib3",
    ]
    assert result["imported_by"] == {
        "botocore.auth": helper,
        "botocore.awsrequest": helper,
        "urllib3": helper,
        "cattrs": helper,
        "aiohttp.connector": "MainThread",
    }
    assert result["heavy"] == result["heavy_after_lookup"] == []
    assert result["id"] == "s-1"


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")
@pytest.mark.parametrize("mode", ["one-cpu", "aiohttp-first", "no-helper-thread"])
def test_with_nothing_to_overlap_botocore_waits_for_the_start_up_thread(mode: str) -> None:
    # One CPU, aiohttp already imported, or no thread to be had: the package imports no more
    # than aiohttp, botocore's exceptions and the models; the client's start-up thread (off the
    # event loop) imports botocore's signer.
    result = import_probe(mode)
    assert result["threads"] == 1
    assert result["loaded"] == ["aiohttp.connector", "cattrs"]
    assert result["imported_by"]["cattrs"] == "MainThread"
    started_by = result["imported_by"]["botocore.auth"]
    assert started_by not in ("MainThread", "aioglue-session-imports")  # the start-up thread
    assert result["heavy"] == result["heavy_after_lookup"] == []
    assert result["id"] == "s-1"


@pytest.mark.skipif(cpus() < 2, reason="needs two CPUs")
def test_a_module_the_import_helper_cannot_import_is_imported_where_it_is_used() -> None:
    result = import_probe("helper-fails")
    assert result["threads"] == 1
    assert "botocore.auth" not in result["loaded"]
    assert result["imported_by"]["botocore.awsrequest"] == "aioglue-session-imports"
    assert result["id"] == "s-1"  # the start-up thread imported botocore.auth, and signed
