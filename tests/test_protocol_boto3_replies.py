"""Three 200 replies where this client deliberately differs from boto3, observed side by side.

A real boto3 client and this client call the same local endpoint (the fault server), which
answers ``GetSession`` with 200 and a body that has no ``Session`` object, an empty body, or a
``Session`` without ``Id``. boto3 returns what it parsed: a response without ``"Session"``
(``response.get("Session")`` is ``None``, ``response["Session"]`` a ``KeyError``) or a partial
dict; this client raises ``GlueError`` ``InvalidReply`` saying what is missing, and does not retry
(the README's table of deliberate differences has the three rows and the reason).
"""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
import pytest
from botocore.config import Config
from conftest import InstantSleep
from faultserver import FaultServer, raw

from aioglue_session import GlueSessionClient, errors

JSON = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "r-1"}


def boto3_response(endpoint_url: str) -> dict[str, Any]:
    """boto3's whole ``get_session`` response (metadata dropped), explicit keys, one attempt."""
    client = boto3.session.Session().client(
        "glue",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="test",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    try:
        response: dict[str, Any] = client.get_session(Id="s-1")
    finally:
        client.close()
    response.pop("ResponseMetadata")
    return response


@pytest.mark.parametrize(
    ("body", "boto3_gives", "message"),
    [
        (b'{"Other": {"Id": "s-1"}}', {}, "reply has no Session object"),
        (b'{"Session": null}', {}, "reply has no Session object"),
        (b"", {}, "reply body is not valid JSON in UTF-8: ''"),
        (
            b'{"Session": {"Status": "READY", "Role": "r"}}',
            {"Session": {"Status": "READY", "Role": "r"}},
            "reply has a malformed field Session.Id: expected a string, got nothing",
        ),
        (
            b'{"Session": {"Id": null, "Status": "READY"}}',
            {"Session": {"Status": "READY"}},
            "reply has a malformed field Session.Id: expected a string, got null",
        ),
    ],
    ids=["no-session-object", "session-null", "empty-body", "no-id", "id-null"],
)
async def test_boto3_returns_none_or_a_partial_dict_this_client_raises_invalid_reply(
    body: bytes, boto3_gives: dict[str, Any], message: str, sleep: InstantSleep
) -> None:
    async with FaultServer(default=raw(200, JSON, body)) as server:
        theirs = await asyncio.to_thread(boto3_response, server.url)
        assert theirs == boto3_gives
        assert theirs.get("Session", None) == boto3_gives.get("Session")
        assert server.count == 1
        async with GlueSessionClient(
            region="us-east-1",
            endpoint_url=server.url,
            aws_access_key_id="AKIDTEST",
            aws_secret_access_key="test",
            sleep=sleep,
        ) as glue:
            with pytest.raises(errors.GlueError) as info:
                await glue.get_session("s-1")
        err = info.value
        assert (err.code, err.message, err.status_code) == ("InvalidReply", message, 200)
        assert err.request_id == "r-1"
        assert server.count == 2  # not retried: a 200 is an answer, not a transient failure
        assert sleep.delays == []
