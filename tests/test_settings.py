"""Region and endpoint resolution, compared with what boto3 resolves for the same settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.exceptions import InvalidRegionError, NoRegionError

from aioglue_session import GlueSessionClient, RetryConfig


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No AWS settings from the machine: empty config files, no AWS_* variables, no IMDS."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    config = tmp_path / "config"
    config.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENDPOINTS")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "endpoint-secret")
    yield config


PROFILE_CONFIG = """
[default]
region = eu-central-1

[profile fips]
region = us-west-2
use_fips_endpoint = true

[profile dual]
region = ap-southeast-2
use_dualstack_endpoint = true

[profile both]
region = us-east-1
use_fips_endpoint = true
use_dualstack_endpoint = true

[profile custom]
region = eu-west-1
endpoint_url = http://127.0.0.1:4566

[profile svc]
region = eu-west-1
services = local-glue

[services local-glue]
glue =
  endpoint_url = http://127.0.0.1:5000

[profile pseudo]
region = fips-us-gov-west-1
"""

# (case id, env vars, profile, region argument)
CASES: list[tuple[str, dict[str, str], str | None, str | None]] = [
    ("aws", {}, None, "us-east-1"),
    ("aws-eu", {}, None, "eu-west-1"),
    ("aws-cn", {}, None, "cn-north-1"),
    ("aws-cn-northwest", {}, None, "cn-northwest-1"),
    ("aws-us-gov", {}, None, "us-gov-west-1"),
    ("aws-us-gov-east", {}, None, "us-gov-east-1"),
    ("fips-env", {"AWS_USE_FIPS_ENDPOINT": "true"}, None, "us-east-1"),
    ("fips-gov-env", {"AWS_USE_FIPS_ENDPOINT": "true"}, None, "us-gov-west-1"),
    ("dualstack-env", {"AWS_USE_DUALSTACK_ENDPOINT": "true"}, None, "eu-west-1"),
    ("dualstack-cn-env", {"AWS_USE_DUALSTACK_ENDPOINT": "true"}, None, "cn-north-1"),
    ("default-region-env", {"AWS_DEFAULT_REGION": "sa-east-1"}, None, None),
    ("profile-default-region", {}, None, None),
    ("profile-fips", {}, "fips", None),
    ("profile-dualstack", {}, "dual", None),
    ("profile-fips-dualstack", {}, "both", None),
    ("profile-endpoint-url", {}, "custom", None),
    ("profile-services-section", {}, "svc", None),
    ("env-endpoint-glue", {"AWS_ENDPOINT_URL_GLUE": "http://127.0.0.1:7000"}, None, "us-east-1"),
    ("env-endpoint-global", {"AWS_ENDPOINT_URL": "https://proxy.internal:8443"}, None, "us-east-1"),
    (
        "env-glue-beats-global",
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_GLUE": "http://127.0.0.1:2"},
        None,
        "us-east-1",
    ),
    ("env-beats-profile", {"AWS_ENDPOINT_URL_GLUE": "http://127.0.0.1:3"}, "custom", None),
    (
        "ignore-configured",
        {
            "AWS_ENDPOINT_URL_GLUE": "http://127.0.0.1:4",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
        },
        None,
        "us-east-1",
    ),
    # FIPS pseudo-regions: the real region with FIPS on, whatever AWS_USE_FIPS_ENDPOINT says.
    ("fips-pseudo-region", {}, None, "fips-us-east-1"),
    ("fips-pseudo-region-fips-off", {"AWS_USE_FIPS_ENDPOINT": "false"}, None, "fips-us-west-1"),
    (
        "fips-pseudo-suffix-dualstack",
        {"AWS_USE_DUALSTACK_ENDPOINT": "true"},
        None,
        "us-west-2-fips",
    ),
    ("fips-pseudo-region-env", {"AWS_DEFAULT_REGION": "fips-us-gov-east-1"}, None, None),
    ("fips-pseudo-region-profile", {}, "pseudo", None),
    (
        "fips-pseudo-region-endpoint",
        {"AWS_ENDPOINT_URL_GLUE": "http://127.0.0.1:5"},
        None,
        "fips-us-east-2",
    ),
]


@pytest.mark.parametrize(
    ("env", "profile", "region"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_endpoint_matches_boto3(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    profile: str | None,
    region: str | None,
) -> None:
    clean_env.write_text(PROFILE_CONFIG)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    expected_client = boto3.Session(profile_name=profile).client("glue", region_name=region)
    expected_url = expected_client.meta.endpoint_url
    expected_region = expected_client.meta.region_name
    async with GlueSessionClient(region=region, profile=profile) as glue:
        assert glue.endpoint_url.rstrip("/") == expected_url.rstrip("/")
        assert glue.region == expected_region


async def test_endpoint_argument_beats_everything(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_GLUE", "http://127.0.0.1:9")
    async with GlueSessionClient(region="us-east-1", endpoint_url="https://example.test") as glue:
        assert glue.endpoint_url == "https://example.test"


async def test_aws_region_is_read_first(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-northeast-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    async with GlueSessionClient() as glue:
        assert glue.region == "ap-northeast-1"
        assert glue.endpoint_url == "https://glue.ap-northeast-1.amazonaws.com"
    async with GlueSessionClient(region="eu-north-1") as glue:
        assert glue.region == "eu-north-1"


async def test_no_region_raises_botocores_error(clean_env: Path) -> None:
    with pytest.raises(NoRegionError):
        async with GlueSessionClient():
            pass


@pytest.mark.parametrize(
    "region",
    ["us-east-1.evil.example/", "evil.example#", "us-east-1/../x", "a b", "-bad", "x" * 64],
)
async def test_region_that_could_change_the_host_is_refused(clean_env: Path, region: str) -> None:
    with pytest.raises(InvalidRegionError):
        async with GlueSessionClient(region=region):
            pass


@pytest.mark.parametrize(
    "url", ["ftp://example.com", "file:///etc/passwd", "glue.example.com", "http://"]
)
def test_only_http_and_https_endpoints(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        GlueSessionClient(endpoint_url=url)


async def test_configured_endpoint_with_bad_scheme_is_refused(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_GLUE", "gopher://127.0.0.1:70")
    with pytest.raises(ValueError, match="http"):
        async with GlueSessionClient(region="us-east-1"):
            pass


async def test_retry_settings_from_env_and_profile(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_env.write_text("[default]\nregion = us-east-1\nretry_mode = adaptive\nmax_attempts = 7\n")
    async with GlueSessionClient() as glue:
        assert (glue.retry_mode, glue.max_attempts) == ("adaptive", 7)
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    async with GlueSessionClient() as glue:
        assert (glue.retry_mode, glue.max_attempts) == ("standard", 2)
    async with GlueSessionClient(retry=RetryConfig(mode="adaptive", max_attempts=4)) as glue:
        assert (glue.retry_mode, glue.max_attempts) == ("adaptive", 4)
    async with GlueSessionClient(retry=RetryConfig(max_attempts=None)) as glue:
        assert (glue.retry_mode, glue.max_attempts) == ("standard", 2)


async def test_defaults_without_any_retry_setting(clean_env: Path) -> None:
    async with GlueSessionClient(region="us-east-1") as glue:
        assert (glue.retry_mode, glue.max_attempts) == ("standard", 3)


async def test_a_missing_ca_bundle_fails_at_open(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # (That a bundle is used, and verification on by default, is shown against a real TLS
    # server in tests/test_tls.py.)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(OSError):
        async with GlueSessionClient(region="us-east-1"):
            pass


async def test_botocore_session_supplies_profile_and_config(clean_env: Path) -> None:
    clean_env.write_text(PROFILE_CONFIG)
    session = botocore.session.Session(profile="fips")
    async with GlueSessionClient(botocore_session=session) as glue:
        assert glue.region == "us-west-2"
        assert glue.endpoint_url == "https://glue-fips.us-west-2.amazonaws.com"


# --- one rule for the retry settings, wherever they come from ------------------------------------

BAD_MODES = ["bogus", "legacy", "STANDARD"]
BAD_ATTEMPTS = ["0", "-1", "abc", "2.5"]


@pytest.mark.parametrize("mode", BAD_MODES)
async def test_a_bad_retry_mode_is_one_error_from_code_env_or_profile(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    from botocore.exceptions import InvalidRetryModeError

    from aioglue_session import errors

    with pytest.raises(errors.InvalidRetryModeError) as from_code:
        RetryConfig(mode=mode)  # type: ignore[arg-type]
    clean_env.write_text(f"[default]\nregion = us-east-1\nretry_mode = {mode}\n")
    with pytest.raises(errors.InvalidRetryModeError) as from_profile:
        async with GlueSessionClient():
            pass
    monkeypatch.setenv("AWS_RETRY_MODE", mode)
    with pytest.raises(errors.InvalidRetryModeError) as from_env:
        async with GlueSessionClient(region="us-east-1"):
            pass
    for info in (from_code, from_profile, from_env):
        # botocore's class, as boto3 raises it, and a ValueError for code that catches that.
        assert isinstance(info.value, InvalidRetryModeError)
        assert isinstance(info.value, ValueError)
        assert "must be one of: ('standard', 'adaptive')" in str(info.value)
    if mode != "legacy":
        # boto3 refuses the same value with the same class ("legacy" it accepts: see README).
        with pytest.raises(InvalidRetryModeError):
            boto3.session.Session().client("glue", region_name="us-east-1")


@pytest.mark.parametrize("attempts", BAD_ATTEMPTS)
async def test_a_bad_max_attempts_is_one_error_from_code_env_or_profile(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, attempts: str
) -> None:
    from botocore.exceptions import InvalidMaxRetryAttemptsError

    from aioglue_session import errors

    raised = []
    with pytest.raises(errors.InvalidMaxRetryAttemptsError) as info:
        RetryConfig(max_attempts=attempts)  # type: ignore[arg-type]
    raised.append(info.value)
    if attempts.lstrip("-").isdigit():
        with pytest.raises(errors.InvalidMaxRetryAttemptsError) as info:
            RetryConfig(max_attempts=int(attempts))
        raised.append(info.value)
    clean_env.write_text(f"[default]\nregion = us-east-1\nmax_attempts = {attempts}\n")
    with pytest.raises(errors.InvalidMaxRetryAttemptsError) as info:
        async with GlueSessionClient():
            pass
    raised.append(info.value)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", attempts)
    with pytest.raises(errors.InvalidMaxRetryAttemptsError) as info:
        async with GlueSessionClient(region="us-east-1"):
            pass
    raised.append(info.value)
    for exc in raised:
        assert isinstance(exc, InvalidMaxRetryAttemptsError) and isinstance(exc, ValueError)
        assert "must be an integer greater than or equal to 1" in str(exc)
    if attempts in ("0", "-1"):
        with pytest.raises(InvalidMaxRetryAttemptsError):  # boto3 says the same
            boto3.session.Session().client("glue", region_name="us-east-1")


def test_retry_settings_accept_what_boto3_accepts() -> None:
    assert RetryConfig(mode="adaptive", max_attempts=1).max_attempts == 1
    assert RetryConfig(mode=None).mode is None
    with pytest.raises(ValueError):
        RetryConfig(max_attempts=True)


@pytest.mark.parametrize("url", ["http://my_host:5000", "http://127.0.0.1:5000/\n", "https://a..b"])
async def test_endpoints_botocore_refuses_are_refused(url: str) -> None:
    # (Checked with botocore's own test when the client opens, for a given URL as for one from
    # the environment or a profile; the scheme and host are checked when it is built.)
    with pytest.raises(ValueError, match="Invalid endpoint"):
        async with GlueSessionClient(
            endpoint_url=url, region="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
        ):
            pass
    with pytest.raises(ValueError):  # boto3 says the same
        boto3.session.Session().client(
            "glue",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="a",
            aws_secret_access_key="b",
        )


def test_the_endpoint_data_cannot_change_a_plain_regions_answer() -> None:
    # settings.resolve_endpoint skips endpoints.json without FIPS, dual-stack or custom data,
    # because then botocore's bridge reports the region it was given and logs nothing: Glue has
    # no global endpoint (partitionEndpoint, isRegionalized false) in any partition, and the only
    # entries marked deprecated (logged) are FIPS names, which always read the data.
    from botocore.loaders import Loader

    data = Loader().load_data("endpoints")
    for partition in data["partitions"]:
        glue = partition["services"].get("glue", {})
        assert "partitionEndpoint" not in glue, partition["partition"]
        assert glue.get("isRegionalized", True), partition["partition"]
        assert "partitionEndpoint" not in glue.get("defaults", {}), partition["partition"]
        for name, entry in glue.get("endpoints", {}).items():
            if entry.get("deprecated"):  # a FIPS pseudo-region, as resolve_endpoint tells them
                assert name.replace("fips-", "").replace("-fips", "") != name, name
