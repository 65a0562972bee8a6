"""What the client puts on the wire and how it reads replies, with aioresponses in place of HTTP."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import sys
from datetime import datetime
from typing import Any
from unittest import mock

import aiohttp
import aioresponses_compat  # noqa: F401  (aiohttp 3.14 shim for aioresponses)
import pytest
from aioresponses import CallbackResult, aioresponses
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from conftest import InstantSleep, assert_no_leaks, botocore_time
from faultserver import FaultServer, huge, raw, stall, stall_in_body, trickle

from aioglue_session import GlueSessionClient, RetryConfig, SessionStatus, Timeouts, errors
from aioglue_session.transport import MockTransport, RawReply, Request

URL = "https://glue.eu-west-1.amazonaws.com/"
KEY, SECRET, TOKEN = (
    "AKIDEXAMPLE1234567890",
    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "FQoG//tok",
)
SESSION_DOC = {"Session": {"Id": "s-1", "Status": "READY", "CreatedOn": 1700000000}}

AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<sig>[0-9a-f]{64})$"
)


def client(**kw: Any) -> GlueSessionClient:
    kw.setdefault("region", "eu-west-1")
    kw.setdefault("aws_access_key_id", KEY)
    kw.setdefault("aws_secret_access_key", SECRET)
    return GlueSessionClient(**kw)


def expected_authorization(
    headers: dict[str, str], body: bytes, secret: str = SECRET, token: str | None = None
) -> str:
    """Sign the same request with botocore's SigV4Auth.add_auth at the request's X-Amz-Date."""
    when = datetime.strptime(headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    unsigned = {
        k: v
        for k, v in headers.items()
        if k not in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")
    }
    request = AWSRequest(method="POST", url=URL, data=body, headers=unsigned)
    with botocore_time(when):
        SigV4Auth(Credentials(KEY, secret, token), "glue", "eu-west-1").add_auth(request)
    return str(request.headers["Authorization"])


async def test_request_headers_body_and_signature() -> None:
    seen: list[dict[str, Any]] = []

    def reply(url: Any, **kwargs: Any) -> CallbackResult:
        seen.append(kwargs)
        return CallbackResult(
            status=200,
            body=json.dumps(SESSION_DOC),
            headers={"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "r-1"},
        )

    with aioresponses() as mocked:
        mocked.post(URL, callback=reply)
        async with client() as glue:
            assert glue.endpoint_url == "https://glue.eu-west-1.amazonaws.com"
            assert glue.region == "eu-west-1"
            session = await glue.get_session("s-1", request_origin="unit-test")
    assert session.id == "s-1" and session.status is SessionStatus.READY
    assert len(seen) == 1
    sent = seen[0]
    body = sent["data"]
    assert body == b'{"Id":"s-1","RequestOrigin":"unit-test"}'
    headers = dict(sent["headers"])
    assert headers["X-Amz-Target"] == "AWSGlue.GetSession"
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert re.fullmatch(r"\d{8}T\d{6}Z", headers["X-Amz-Date"])
    assert "X-Amz-Security-Token" not in headers
    assert headers["User-Agent"].startswith("aioglue-session/")
    match = AUTH_RE.match(headers["Authorization"])
    assert match is not None, headers["Authorization"]
    assert match["key"] == KEY
    assert match["date"] == headers["X-Amz-Date"][:8]
    assert match["region"] == "eu-west-1" and match["service"] == "glue"
    assert match["signed"] == "content-type;host;x-amz-date;x-amz-target"
    assert headers["Authorization"] == expected_authorization(headers, body)
    # A different secret gives a different signature: the header really depends on the key.
    assert headers["Authorization"] != expected_authorization(headers, body, secret=SECRET + "x")


async def test_session_token_is_sent_and_signed() -> None:
    seen: list[dict[str, Any]] = []

    def reply(url: Any, **kwargs: Any) -> CallbackResult:
        seen.append(kwargs)
        return CallbackResult(status=200, body=json.dumps(SESSION_DOC))

    with aioresponses() as mocked:
        mocked.post(URL, callback=reply)
        async with client(aws_session_token=TOKEN) as glue:
            await glue.get_session("s-1")
    headers = dict(seen[0]["headers"])
    assert headers["X-Amz-Security-Token"] == TOKEN
    match = AUTH_RE.match(headers["Authorization"])
    assert match is not None
    assert "x-amz-security-token" in match["signed"].split(";")
    assert headers["Authorization"] == expected_authorization(headers, seen[0]["data"], token=TOKEN)


async def test_error_reply_is_typed() -> None:
    with aioresponses() as mocked:
        mocked.post(
            URL,
            status=400,
            body=json.dumps({"__type": "EntityNotFoundException", "message": "Session not found"}),
            headers={"x-amzn-RequestId": "req-9"},
        )
        async with client() as glue:
            with pytest.raises(glue.exceptions.EntityNotFoundException) as info:
                await glue.get_session("missing")
    assert glue.exceptions.EntityNotFoundException is errors.EntityNotFoundException
    err = info.value
    assert (err.code, err.message, err.request_id, err.status_code) == (
        "EntityNotFoundException",
        "Session not found",
        "req-9",
        400,
    )


async def test_invalid_input_is_refused_before_sending() -> None:
    with aioresponses() as mocked:
        async with client() as glue:
            with pytest.raises(errors.ParamValidationError):
                await glue.get_session("")
            with pytest.raises(errors.ParamValidationError):
                await glue.get_session("x" * 256)
            with pytest.raises(errors.ParamValidationError):
                await glue.get_session("line\nbreak")
            with pytest.raises(errors.ParamValidationError):
                await glue.get_session("ok", request_origin="bad origin!")
        assert mocked.requests == {}


async def test_explicit_endpoint_and_http_session_are_used_not_closed() -> None:
    endpoint = "http://127.0.0.1:9/custom"
    with aioresponses() as mocked:
        mocked.post(endpoint, status=200, body=json.dumps(SESSION_DOC))
        async with aiohttp.ClientSession() as http:
            async with client(endpoint_url=endpoint, http_session=http) as glue:
                assert glue.endpoint_url == endpoint
                assert (await glue.get_session("s-1")).id == "s-1"
            assert not http.closed  # the user's session stays theirs


# --- the aiohttp transport against a real local server: the reply cap -----------------------------


def fault_client(url: str, **kw: Any) -> GlueSessionClient:
    return GlueSessionClient(
        endpoint_url=url,
        region="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        **kw,
    )


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
    async with fault_client(fault_server.url, max_reply_bytes=1024 * 1024) as glue:
        with pytest.raises(errors.GlueError) as info:
            await glue.get_session("s-1")
        assert info.value.code == "ReplyTooLarge"
        assert info.value.status_code == 200
        assert fault_server.count == 1  # not retried
        assert_no_leaks(glue)
        # The client is still fine afterwards.
        assert (await glue.get_session("s-2")).id == "s-2"


async def test_gzip_reply_under_the_cap_is_read(fault_server: FaultServer) -> None:
    body = json.dumps({"Session": {"Id": "gz", "Status": "READY"}}).encode()
    fault_server.script([raw(200, {"Content-Encoding": "gzip"}, gzip.compress(body))])
    async with fault_client(fault_server.url) as glue:
        assert (await glue.get_session("gz")).id == "gz"


async def test_default_cap_is_10_mib(fault_server: FaultServer) -> None:
    fault_server.script([huge(10 * 1024 * 1024 + 1)])
    async with fault_client(fault_server.url) as glue:
        with pytest.raises(errors.GlueError, match="ReplyTooLarge") as info:
            await glue.get_session("s-1")
    assert "max_reply_bytes=10485760" in info.value.message


# --- no input reaches the request line, the headers or the host -----------------------------------


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
    async with fault_client(fault_server.url) as glue:
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


# --- aiohttp's failures, as botocore's ------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (aiohttp.ConnectionTimeoutError(), "ConnectTimeoutError"),
        (aiohttp.SocketTimeoutError(), "ReadTimeoutError"),
        (aiohttp.ServerDisconnectedError(), "ConnectionClosedError"),
        (aiohttp.ClientPayloadError("x"), "ConnectionClosedError"),
        (aiohttp.ClientOSError(), "ConnectionClosedError"),
        (asyncio.TimeoutError(), "ReadTimeoutError"),
        (
            aiohttp.ClientConnectorError(mock.Mock(ssl=True), OSError(111, "refused")),
            "EndpointConnectionError",
        ),
    ],
)
def test_network_errors_map_to_botocores(failure: BaseException, expected: str) -> None:
    from aioglue_session.transport import network_error

    mapped = network_error(failure, "https://glue.example")
    assert type(mapped).__name__ == expected
    assert type(mapped).__module__ == "botocore.exceptions"
    assert "glue.example" in str(mapped) or expected == "ConnectionClosedError"


# --- the transport seam: a user's own transport ---------------------------------------------------


def session_reply(request: Request) -> RawReply:
    sid = json.loads(request.body)["Id"]
    doc = {"Session": {"Id": sid, "Status": "READY"}}
    return RawReply(200, {"X-Amzn-RequestId": f"rid-{sid}"}, json.dumps(doc).encode())


async def test_mock_transport_answers_without_a_socket() -> None:
    transport = MockTransport(session_reply)
    async with client(transport=transport) as glue:
        assert glue.transport is transport
        session = await glue.get_session("s-1", request_origin="unit")
        results = {r.id: r.session for r in [r async for r in glue.get_sessions(["a", "b"])]}
    assert session.status is SessionStatus.READY
    assert {k: v.id for k, v in results.items() if v} == {"a": "a", "b": "b"}
    assert transport.closed
    first = transport.requests[0]
    assert first.url == URL.rstrip("/")
    assert first.body == b'{"Id":"s-1","RequestOrigin":"unit"}'
    assert first.headers["X-Amz-Target"] == "AWSGlue.GetSession"
    assert first.headers["Authorization"] == expected_authorization(
        {k: v for k, v in first.headers.items()}, first.body
    )
    assert first.timeout is None  # no Timeouts.total


async def test_mock_transport_failures_are_retried_like_the_network() -> None:
    from botocore.exceptions import EndpointConnectionError

    replies: list[Any] = [
        EndpointConnectionError(endpoint_url=URL),
        RawReply(400, {}, b'{"__type": "ThrottlingException", "message": "slow"}'),
    ]

    async def handler(request: Request) -> RawReply:
        if replies:
            reply = replies.pop(0)
            if isinstance(reply, Exception):
                raise reply
            return reply  # type: ignore[no-any-return]
        return session_reply(request)

    sleep = InstantSleep()
    transport = MockTransport(handler)
    async with client(transport=transport, sleep=sleep, timeouts=Timeouts(total=30)) as glue:
        session = await glue.get_session("s-9")
    assert session.id == "s-9"
    assert len(transport.requests) == 3 and len(sleep.delays) == 2
    assert all(r.timeout is not None and 0 < r.timeout <= 30 for r in transport.requests)


async def test_transport_and_http_session_are_exclusive() -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(ValueError, match="transport or http_session"):
            client(transport=MockTransport(session_reply), http_session=http)


# --- the read timeout -----------------------------------------------------------------------------
# No data for `read` seconds fails the attempt with botocore's ReadTimeoutError; a reply whose data
# keeps coming does not, however long it takes in all (boto3's read_timeout, aiohttp's sock_read).
# The transport watches its requests on one timer rather than aiohttp's timer per request
# (transport.ReadWatch); the slow-handshake case (connecting is not reading) is in test_tls.py.


async def test_a_body_that_keeps_arriving_is_not_a_read_timeout(fault_server: FaultServer) -> None:
    fault_server.default = trickle(6, 0.12)  # ~0.6 s in all, no gap near the read timeout
    async with client(
        endpoint_url=fault_server.url, timeouts=Timeouts(connect=1, read=0.35)
    ) as glue:
        loop = asyncio.get_running_loop()
        started = loop.time()
        session = await glue.get_session("s-1")
        elapsed = loop.time() - started
        assert_no_leaks(glue)
    assert session.id == "s-1"
    assert fault_server.count == 1
    assert elapsed >= 0.5  # longer than `read`, and still not a timeout


async def test_a_body_that_stops_arriving_is_a_read_timeout(fault_server: FaultServer) -> None:
    fault_server.default = stall_in_body(5)
    async with client(
        endpoint_url=fault_server.url,
        timeouts=Timeouts(connect=1, read=0.3),
        retry=RetryConfig(max_attempts=2),
        sleep=InstantSleep(),
    ) as glue:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(errors.ReadTimeoutError) as info:
            await glue.get_session("s-1")
        elapsed = loop.time() - started
        assert_no_leaks(glue)
    assert fault_server.count == 2
    assert 0.6 <= elapsed < 1.5  # two attempts of `read` each (the watch may fire a tick late)
    assert fault_server.url.rstrip("/") in str(info.value)
    if sys.version_info >= (3, 11):
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0  # the watch's cancels taken back


async def test_a_read_timeout_is_the_same_error_with_a_total_budget(
    fault_server: FaultServer,
) -> None:
    fault_server.default = stall(5)
    async with client(
        endpoint_url=fault_server.url,
        timeouts=Timeouts(connect=1, read=0.2, total=30),
        retry=RetryConfig(max_attempts=1),
    ) as glue:
        with pytest.raises(errors.ReadTimeoutError):
            await glue.get_session("s-1")
        assert_no_leaks(glue)


async def test_the_callers_own_timeout_and_cancellation_still_win(
    fault_server: FaultServer,
) -> None:
    fault_server.default = stall(5)
    async with client(
        endpoint_url=fault_server.url, timeouts=Timeouts(connect=1, read=0.25)
    ) as glue:
        # The caller gives up first: its TimeoutError, not the client's ReadTimeoutError.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(glue.get_session("s-1"), 0.1)
        # The caller cancels while the watch fires: the cancellation propagates.
        call = asyncio.ensure_future(glue.get_session("s-2"))
        await asyncio.sleep(0.2)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.sleep(0.3)  # past the read timeout: nothing fires into this task
        assert_no_leaks(glue)


async def test_a_lookup_names_its_loop_when_it_asks_for_its_task(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On Python 3.10/3.11, asyncio.current_task() without a loop finds the running loop with a
    # getpid() system call; the client and the read timeout watch pass the loop they run in.
    asked: list[tuple[str, bool]] = []
    current_task = asyncio.current_task

    def recording(loop: Any = None) -> Any:
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("aioglue_session"):
            asked.append((caller, loop is not None))
        return current_task(loop)

    monkeypatch.setattr(asyncio, "current_task", recording)
    fault_server.default = raw(200, {}, json.dumps(SESSION_DOC).encode())
    async with client(endpoint_url=fault_server.url) as glue:
        await glue.get_session("s-1")  # opens the connection (the watch asks twice more)
        assert asked and all(named for _, named in asked)
        asked.clear()
        sessions = [await glue.get_session("s-1") for _ in range(3)]
        during_lookups = list(asked)
    assert [s.id for s in sessions] == ["s-1"] * 3
    # Per lookup: the call's tracking (so that close() can cancel it) and the read watch.
    assert (
        during_lookups
        == [("aioglue_session.client", True), ("aioglue_session.transport", True)] * 3
    )


async def test_cookies_are_not_kept(fault_server: FaultServer) -> None:
    # boto3's urllib3 keeps no cookies: a Set-Cookie in a reply is never sent back.
    doc = json.dumps(SESSION_DOC).encode()
    fault_server.script(
        [raw(200, {"Set-Cookie": "AWSALB=sticky; Path=/", "Content-Type": "application/json"}, doc)]
    )
    # (By host name: aiohttp's default jar would keep a cookie from a name, not from an IP.)
    endpoint = fault_server.url.replace("127.0.0.1", "localhost")
    async with client(endpoint_url=endpoint) as glue:
        await glue.get_session("s-1")
        await glue.get_session("s-1")
    assert [r.headers.get("Cookie") for r in fault_server.requests] == [None, None]
