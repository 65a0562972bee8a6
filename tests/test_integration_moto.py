"""Against a real AWS-compatible endpoint: a moto server that checks SigV4 signatures and IAM.

Set-up runs before authentication is switched on (moto's ``/moto-api/reset-auth``); after that
every request, ours and boto3's, must be correctly signed by a key IAM knows and be allowed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from _moto import enable_auth, moto_process
from botocore.exceptions import ClientError

from aioglue_session import GlueSessionClient, SessionStatus, errors
from aioglue_session.testing import local_glue

REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/GlueInteractive"


def _client(service: str, url: str, **creds: str) -> Any:
    creds.setdefault("aws_access_key_id", "testing")
    creds.setdefault("aws_secret_access_key", "testing")
    return boto3.client(service, endpoint_url=url, region_name=REGION, **creds)


def _keys(access_key: dict[str, Any]) -> dict[str, str]:
    return {
        "aws_access_key_id": access_key["AccessKeyId"],
        "aws_secret_access_key": access_key["SecretAccessKey"],
    }


@pytest.fixture(scope="module")
def moto_auth() -> Iterator[dict[str, Any]]:
    with moto_process() as url:
        iam = _client("iam", url)
        glue = _client("glue", url)
        allow = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["glue:GetSession", "sts:AssumeRole"],
                    "Resource": "*",
                }
            ],
        }
        policy_arn = iam.create_policy(
            PolicyName="read-sessions", PolicyDocument=json.dumps(allow)
        )["Policy"]["Arn"]
        iam.create_user(UserName="reader")
        iam.attach_user_policy(UserName="reader", PolicyArn=policy_arn)
        reader = _keys(iam.create_access_key(UserName="reader")["AccessKey"])
        iam.create_user(UserName="nobody")
        nobody = _keys(iam.create_access_key(UserName="nobody")["AccessKey"])
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:user/reader"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.create_role(RoleName="session-reader", AssumeRolePolicyDocument=json.dumps(trust))
        iam.attach_role_policy(RoleName="session-reader", PolicyArn=policy_arn)
        glue.create_session(
            Id="etl-session-1",
            Description="nightly ETL, café ☕",
            Role=ROLE_ARN,
            Command={"Name": "glueetl", "PythonVersion": "3"},
            DefaultArguments={"--enable-metrics": "true", "--job-language": "python"},
            Connections={"Connections": ["vpc-conn-a", "vpc-conn-b"]},
            MaxCapacity=5.0,
            GlueVersion="4.0",
            IdleTimeout=30,
            RequestOrigin="pytest",
        )
        enable_auth(url)
        yield {"url": url, "reader": reader, "nobody": nobody}


async def test_signed_call_returns_same_session_as_boto3(moto_auth: dict[str, Any]) -> None:
    url, reader = moto_auth["url"], moto_auth["reader"]
    expected = _client("glue", url, **reader).get_session(Id="etl-session-1")["Session"]
    async with GlueSessionClient(region=REGION, endpoint_url=url, **reader) as glue:
        session = await glue.get_session("etl-session-1", request_origin="pytest")
    assert session.to_dict() == expected
    assert session.id == "etl-session-1"
    assert session.status is SessionStatus.READY
    assert session.connections == ("vpc-conn-a", "vpc-conn-b")
    assert session.default_arguments == {"--enable-metrics": "true", "--job-language": "python"}
    assert session.description == "nightly ETL, café ☕"
    assert session.created_on is not None and session.created_on.utcoffset() is not None
    assert session.created_on.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


async def test_wrong_secret_is_refused_with_signature_error(moto_auth: dict[str, Any]) -> None:
    url, reader = moto_auth["url"], moto_auth["reader"]
    bad = {**reader, "aws_secret_access_key": "not-the-secret-" + "x" * 25}
    async with GlueSessionClient(region=REGION, endpoint_url=url, **bad) as glue:
        with pytest.raises(errors.GlueError) as info:
            await glue.get_session("etl-session-1")
    err = info.value
    assert err.code in {"SignatureDoesNotMatch", "InvalidSignatureException"}
    assert err.status_code == 403
    assert isinstance(err, ClientError)
    assert err.response["Error"]["Code"] == err.code
    assert err.retry_attempts == 0  # a signature failure is not retried
    # moto (like AWS's auth layer) answers with an XML body; boto3's JSON parser cannot read its
    # <Code> and reports just "403". We read the XML and name the failure.
    with pytest.raises(ClientError) as boto_info:
        _client("glue", url, **bad).get_session(Id="etl-session-1")
    assert boto_info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


async def test_user_without_permission_gets_access_denied(moto_auth: dict[str, Any]) -> None:
    url, nobody = moto_auth["url"], moto_auth["nobody"]
    async with GlueSessionClient(region=REGION, endpoint_url=url, **nobody) as glue:
        with pytest.raises(errors.GlueError) as info:
            await glue.get_session("etl-session-1")
    err = info.value
    assert err.status_code == 403
    assert "AccessDenied" in err.code
    assert "glue:GetSession" in err.message


async def test_missing_session_is_entity_not_found(moto_auth: dict[str, Any]) -> None:
    url, reader = moto_auth["url"], moto_auth["reader"]
    async with GlueSessionClient(region=REGION, endpoint_url=url, **reader) as glue:
        with pytest.raises(glue.exceptions.EntityNotFoundException) as info:
            await glue.get_session("no-such-session")
    err = info.value
    assert isinstance(err, errors.EntityNotFoundException)
    assert err.code == "EntityNotFoundException"
    assert err.status_code == 400
    assert err.request_id
    assert "no-such-session" in err.message


async def test_temporary_credentials_with_session_token(moto_auth: dict[str, Any]) -> None:
    url, reader = moto_auth["url"], moto_auth["reader"]
    sts = _client("sts", url, **reader)
    temp = sts.assume_role(
        RoleArn="arn:aws:iam::123456789012:role/session-reader", RoleSessionName="pytest"
    )["Credentials"]
    async with GlueSessionClient(
        region=REGION,
        endpoint_url=url,
        aws_access_key_id=temp["AccessKeyId"],
        aws_secret_access_key=temp["SecretAccessKey"],
        aws_session_token=temp["SessionToken"],
    ) as glue:
        session = await glue.get_session("etl-session-1")
    assert session.id == "etl-session-1"
    # Without the token the same keys are not a valid identity.
    async with GlueSessionClient(
        region=REGION,
        endpoint_url=url,
        aws_access_key_id=temp["AccessKeyId"],
        aws_secret_access_key=temp["SecretAccessKey"],
    ) as glue:
        with pytest.raises(errors.GlueError) as info:
            await glue.get_session("etl-session-1")
    assert info.value.status_code == 403


# --- ids the service accepts, through a real server -----------------------------------------------


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
