"""What the client puts on the wire and how it reads replies, with aioresponses in place of HTTP."""

from __future__ import annotations

import json
import re
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

from aioglue_session import GlueSessionClient, SessionStatus, errors

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
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
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


async def test_client_must_be_opened_and_close_is_idempotent() -> None:
    glue = client()
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
