"""Where GetSession goes and which region signs it, against boto3, for every region botocore knows.

Every region of every partition in botocore's ``partitions.json``, every FIPS pseudo-region in
Glue's ``endpoints.json``, and a ``fips-`` / ``-fips`` form of one region per partition, each with
FIPS and dual-stack off, one or the other, and both (``AWS_USE_FIPS_ENDPOINT`` /
``AWS_USE_DUALSTACK_ENDPOINT``). boto3 sends one GetSession, answered by a ``before-send`` handler
so nothing leaves the machine. The URL it sent, the region of its signature's credential scope and
its ``client.meta.region_name`` must match what this client resolves when it opens (the endpoint
URL, and the region it reports and signs for), or both must refuse with the same exception
class. The other tests send through the client itself, to a ``MockTransport``, for a sample of
regions and for the region names boto3 rejects."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointVariantError, NoRegionError

from aioglue_session import GlueSessionClient
from aioglue_session.settings import resolve_endpoint, resolve_region
from aioglue_session.transport import MockTransport, RawReply, Request

KEY_ID, SECRET = "AKIDREGIONS", "regions-secret"
REPLY = b'{"Session": {"Id": "s-1"}}'
SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]*)/glue/aws4_request")
VARIANTS = [(False, False), (True, False), (False, True), (True, True)]  # (FIPS, dual-stack)


class Outcome(NamedTuple):
    """What one client did with one region: sent a request, or refused."""

    url: str | None = None
    signing_region: str | None = None
    region: str | None = None
    error: type[BaseException] | None = None


@pytest.fixture(scope="module", autouse=True)
def clean_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No AWS settings from the machine: an empty config file, no AWS_* variables, no IMDS.
    (Each test sets what it needs with ``monkeypatch``, undone after it.)"""
    home = tmp_path_factory.mktemp("aws")
    (home / "config").write_text("")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("AWS_"):
                patch.delenv(name)
        patch.setenv("AWS_CONFIG_FILE", str(home / "config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield


Sessions = tuple[botocore.session.Session, boto3.Session]


def new_sessions() -> Sessions:
    """One botocore session read by both clients, and boto3's around it with static keys."""
    core = botocore.session.Session()
    return core, boto3.Session(
        botocore_session=core, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET
    )


@pytest.fixture(scope="module")
def sessions() -> Sessions:
    # Shared: a new session loads Glue's models again (~0.5 s). The settings each test
    # changes are environment variables, which botocore reads at each client's creation.
    return new_sessions()


def region_names(session: botocore.session.Session) -> list[str]:
    loader = session.get_component("data_loader")
    names: list[str] = []
    for partition in loader.load_data("partitions")["partitions"]:
        regions = list(partition["regions"])
        names += regions
        # botocore rewrites any such name, listed or not: one of each form per partition.
        real = next((r for r in regions if not r.endswith("-global")), None)
        if real is not None:  # older botocores (1.34) list partitions with no regions yet
            names += [f"fips-{real}", f"{real}-fips"]
    for partition in loader.load_data("endpoints")["partitions"]:
        glue = partition["services"].get("glue", {}).get("endpoints", {})
        names += [n for n in glue if n.startswith("fips-") or n.endswith("-fips")]
    return list(dict.fromkeys(names))


def boto3_outcome(session: boto3.Session, region: str) -> Outcome:
    sent: list[Any] = []

    def answer(request: Any, **_: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, {}, _Raw())

    try:
        client = session.client("glue", region_name=region)
        client.meta.events.register("before-send.glue.GetSession", answer)
        client.get_session(Id="s-1")
    except Exception as error:
        return Outcome(error=type(error))
    authorization = sent[0].headers["Authorization"]
    if isinstance(authorization, bytes):
        authorization = authorization.decode()
    return Outcome(_target(sent[0].url), _scope(authorization), client.meta.region_name)


class _Raw:
    """The body of the fake reply to boto3."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield REPLY


async def our_outcome(session: botocore.session.Session, region: str) -> Outcome:
    transport = MockTransport(lambda _: RawReply(200, {}, REPLY))
    try:
        async with GlueSessionClient(
            region=region,
            botocore_session=session,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            transport=transport,
        ) as glue:
            await glue.get_session("s-1")
            region_name = glue.region
    except Exception as error:
        return Outcome(error=type(error))
    request: Request = transport.requests[0]
    return Outcome(_target(request.url), _scope(request.headers["Authorization"]), region_name)


def _target(url: str) -> str:
    """The URL with its empty path written as "/": both are a POST to "/"."""
    return url if urlsplit(url).path else url + "/"


def _scope(authorization: str) -> str:
    match = SCOPE.search(authorization)
    assert match, authorization
    return match.group(1)


def resolved_outcome(session: botocore.session.Session, region: str) -> Outcome:
    """What the client resolves when it opens, without opening one (which also builds a TLS
    context, ~40 ms): the client signs for ``Settings.region``, which is ``endpoint.region``.
    The tests below check that through the client for a sample of regions."""
    try:
        endpoint = resolve_endpoint(session, resolve_region(session, region))
    except Exception as error:
        return Outcome(error=type(error))
    return Outcome(_target(endpoint.url), endpoint.region, endpoint.region)


def test_every_region_and_variant_matches_boto3(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)  # (both sides warn about each FIPS pseudo-region)
    core, session = sessions
    names = region_names(core)
    compared, refused, mismatches = 0, 0, []
    for fips, dualstack in VARIANTS:
        monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", str(fips).lower())
        monkeypatch.setenv("AWS_USE_DUALSTACK_ENDPOINT", str(dualstack).lower())
        for region in names:
            expected = boto3_outcome(session, region)
            actual = resolved_outcome(core, region)
            compared += 1
            refused += expected.error is not None
            if actual != expected:
                mismatches.append((region, fips, dualstack, expected, actual))
    print(f"{compared} region combinations compared with boto3, {refused} refused by both")
    assert mismatches == []
    # The data really was read: every partition's regions (55 names in botocore 1.34, more in
    # newer ones), Glue's six fips-* names, the variants...
    assert len(names) >= 55
    assert compared == len(VARIANTS) * len(names)
    # ...and it includes the refusals issue 11 was about.
    assert refused >= 6


@pytest.mark.parametrize(
    ("region", "fips", "dualstack", "url"),
    [
        ("fips-us-east-1", False, False, "https://glue-fips.us-east-1.amazonaws.com/"),
        ("us-gov-west-1-fips", False, True, "https://glue-fips.us-gov-west-1.api.aws/"),
        ("fips-us-isof-east-1", False, False, "https://glue-fips.us-isof-east-1.csp.hci.ic.gov/"),
    ],
)
async def test_fips_pseudo_region_is_the_real_region_with_fips(
    sessions: Sessions,
    monkeypatch: pytest.MonkeyPatch,
    region: str,
    fips: bool,
    dualstack: bool,
    url: str,
) -> None:
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", str(fips).lower())
    monkeypatch.setenv("AWS_USE_DUALSTACK_ENDPOINT", str(dualstack).lower())
    core, _ = sessions
    real = region.replace("fips-", "").replace("-fips", "")
    assert await our_outcome(core, region) == Outcome(url, real, real)


@pytest.mark.parametrize("region", ["eu-isoe-west-1", "us-isof-east-1", "fips-us-isof-south-1"])
async def test_dualstack_where_boto3_has_none_is_refused(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch, region: str
) -> None:
    monkeypatch.setenv("AWS_USE_DUALSTACK_ENDPOINT", "true")
    core, _ = sessions
    assert await our_outcome(core, region) == Outcome(error=EndpointVariantError)


async def test_dualstack_refusal_holds_with_a_configured_endpoint(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # boto3 checks the variant against its endpoint data before it looks at endpoint_url.
    monkeypatch.setenv("AWS_USE_DUALSTACK_ENDPOINT", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_GLUE", "http://127.0.0.1:9")
    core, session = sessions
    assert boto3_outcome(session, "us-isof-east-1") == Outcome(error=EndpointVariantError)
    assert await our_outcome(core, "us-isof-east-1") == Outcome(error=EndpointVariantError)


async def test_pseudo_region_with_a_configured_endpoint_signs_for_the_real_region(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_GLUE", "http://127.0.0.1:9")
    core, session = sessions
    expected = boto3_outcome(session, "fips-us-west-2")
    assert expected.signing_region == "us-west-2"
    assert await our_outcome(core, "fips-us-west-2") == expected


@pytest.mark.parametrize(
    "region",
    [
        "a_b",
        "fips-",
        "-fips",
        "0123",
        "x" * 64,
        "ü",
        " us-east-1",
        "us-east-1.evil.example",
        "us-east-1/",
        # validate_region_name's "$" lets a final newline through; botocore's endpoint check
        # then refuses the URL (ValueError: Invalid endpoint).
        "us-east-1\n",
        "fips-us-east-1\n",
    ],
)
async def test_region_names_boto3_rejects_are_rejected_alike(
    sessions: Sessions, region: str
) -> None:
    core, session = sessions
    expected = boto3_outcome(session, region)
    assert expected.error is not None
    assert await our_outcome(core, region) == expected


@pytest.mark.parametrize("region", ["fips-0123", "Fips-us-east-1", "us-east-1-FIPS", "fips"])
async def test_odd_names_boto3_accepts_are_accepted_alike(sessions: Sessions, region: str) -> None:
    # Validated before the rewrite ("fips-0123" becomes the all-digit "0123"); the rewrite is
    # case-sensitive.
    core, session = sessions
    expected = boto3_outcome(session, region)
    assert expected.error is None
    assert await our_outcome(core, region) == expected


async def test_empty_region_is_no_region(sessions: Sessions) -> None:
    # A deliberate difference: boto3 accepts "" and fails building the URL
    # (ValueError: Invalid endpoint: https://glue..amazonaws.com); here it is no region at all.
    core, session = sessions
    assert boto3_outcome(session, "") == Outcome(error=ValueError)
    assert await our_outcome(core, "") == Outcome(error=NoRegionError)


async def test_custom_endpoint_data_is_used_as_boto3_uses_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # With endpoints.json from AWS_DATA_PATH, botocore sends to the host that data names.
    data = botocore.session.Session().get_component("data_loader").load_data("endpoints")
    aws = next(p for p in data["partitions"] if p["partition"] == "aws")
    aws["services"]["glue"]["endpoints"]["eu-west-1"] = {"hostname": "glue.internal.example"}
    (tmp_path / "endpoints.json").write_text(json.dumps(data))
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    core, session = new_sessions()
    expected = boto3_outcome(session, "eu-west-1")
    assert expected.url == "https://glue.internal.example/"
    assert await our_outcome(core, "eu-west-1") == expected
