"""The fast signer's headers are byte-identical to ``botocore.auth.SigV4Auth.add_auth``.

For generated ids, request origins, endpoints (http/https, ports, paths, upper-case hosts),
regions, keys, tokens, user agents and signing times, ``GlueSigner.headers`` must produce exactly
the header names, values and order that ``add_auth`` gives an ``AWSRequest`` for the same request
at the same time. One signer is reused across several requests and days, as a client does.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pytest
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials
from conftest import botocore_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aioglue_session.client import USER_AGENT
from aioglue_session.protocol import CONTENT_TYPE, TARGET, encode_request
from aioglue_session.signing import GlueSigner

EXAMPLES = int(os.environ.get("AIOGLUE_FUZZ_EXAMPLES", "1500"))

session_ids = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs",), exclude_characters="\ufffe\uffff"
    ).filter(lambda c: c == "\t" or ord(c) >= 0x20),
    min_size=1,
    max_size=255,
)
origins = st.none() | st.from_regex(r"[.\-_A-Za-z0-9]{1,128}", fullmatch=True)
hosts = st.sampled_from(
    [
        "https://glue.us-east-1.amazonaws.com",
        "https://glue.us-east-1.amazonaws.com/",
        "https://GLUE.eu-west-1.amazonaws.com:443",
        "https://glue-fips.us-gov-west-1.amazonaws.com",
        "https://glue.cn-north-1.amazonaws.com.cn",
        "https://glue.eu-central-1.api.aws",
        "http://127.0.0.1:5000",
        "http://localhost:80/",
        "http://[::1]:8080",
        "https://vpce-0123-abcd.glue.us-east-1.vpce.amazonaws.com/prefix/path",
    ]
)
regions = st.sampled_from(
    ["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1", "ap-southeast-5", "local"]
)
key_ids = st.from_regex(r"(AKIA|ASIA)[A-Z0-9]{16}", fullmatch=True)
secrets = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60
)
tokens = st.none() | st.text(
    alphabet=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="),
    min_size=1,
    max_size=400,
)
user_agents = st.sampled_from([USER_AGENT, "", "agent  with   spaces ", "x/1 (linux)"])
times = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2099, 12, 31))


def botocore_headers(
    url: str, body: bytes, creds: ReadOnlyCredentials, region: str, ua: str, now: datetime
) -> list[tuple[str, str]]:
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"X-Amz-Target": TARGET, "Content-Type": CONTENT_TYPE, "User-Agent": ua},
    )
    signer = SigV4Auth(Credentials(*creds), "glue", region)
    with botocore_time(now):
        signer.add_auth(request)
    return list(request.headers.items())


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    url=hosts,
    region=regions,
    key_id=key_ids,
    secret=secrets,
    token=tokens,
    ua=user_agents,
    requests=st.lists(st.tuples(session_ids, origins, times), min_size=1, max_size=4),
)
def test_headers_are_byte_identical_to_add_auth(
    url: str,
    region: str,
    key_id: str,
    secret: str,
    token: str | None,
    ua: str,
    requests: list[tuple[str, str | None, datetime]],
) -> None:
    creds = ReadOnlyCredentials(key_id, secret, token)
    signer = GlueSigner(creds, region, url, ua)
    for session_id, origin, now in requests:
        body = encode_request(session_id, origin)
        ours = signer.headers(body, now.strftime(SIGV4_TIMESTAMP))
        assert list(ours.items()) == botocore_headers(url, body, creds, region, ua, now)


def test_signing_key_cache_follows_the_day() -> None:
    creds = ReadOnlyCredentials("AKIDEXAMPLE", "secret", None)
    url = "https://glue.us-east-1.amazonaws.com"
    signer = GlueSigner(creds, "us-east-1", url, USER_AGENT)
    body = encode_request("s-1")
    start = datetime(2026, 11, 25, 23, 59, 59)
    for step in range(10):  # across midnight and several days, back and forth
        now = start + timedelta(hours=7 * step * (-1) ** step)
        ours = signer.headers(body, now.strftime(SIGV4_TIMESTAMP))
        assert list(ours.items()) == botocore_headers(
            url, body, creds, "us-east-1", USER_AGENT, now
        )
        assert f"/{now:%Y%m%d}/us-east-1/glue/aws4_request" in ours["Authorization"]


def test_token_and_signed_headers_with_a_session_token() -> None:
    creds = ReadOnlyCredentials("AKIDEXAMPLE", "secret", "token/+=")
    url = "http://127.0.0.1:5000"
    now = datetime(2026, 11, 25, 12, 0, 0)
    body = encode_request("s 1\t\U0001f600", "origin.1")
    headers = GlueSigner(creds, "eu-west-1", url, "ua").headers(body, "20261125T120000Z")
    assert list(headers.items()) == botocore_headers(url, body, creds, "eu-west-1", "ua", now)
    assert headers["X-Amz-Security-Token"] == "token/+="
    assert headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/eu-west-1/glue/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
        "Signature="
    )


@pytest.mark.parametrize("token", [None, "tok"])
def test_known_answer(token: str | None) -> None:
    """A fixed vector, so a change in botocore's output shows up here too."""
    creds = ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    signer = GlueSigner(creds, "us-east-1", "https://glue.us-east-1.amazonaws.com", "ua")
    headers = signer.headers(b'{"Id":"s-1"}', "20150830T123600Z")
    expected = botocore_headers(
        "https://glue.us-east-1.amazonaws.com",
        b'{"Id":"s-1"}',
        creds,
        "us-east-1",
        "ua",
        datetime(2015, 8, 30, 12, 36, 0),
    )
    assert list(headers.items()) == expected
    if token is None:
        assert headers["Authorization"].endswith(
            "Signature=d07263d529ec3796c882671c0bb9346e4ff6d963cf1b1181ccd39541b2c7afc9"
        )
    assert [name for name, _ in expected] == [
        "X-Amz-Target",
        "Content-Type",
        "User-Agent",
        "X-Amz-Date",
        *(["X-Amz-Security-Token"] if token else []),
        "Authorization",
    ]
