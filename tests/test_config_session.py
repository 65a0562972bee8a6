"""``ConfigSession`` against a real ``botocore.session.Session``: every setting resolved through
each, over many configurations (config and credentials files, environment variables, profiles,
custom endpoint data), must be the same, or both must fail with the same exception class; and a
client with explicit keys opens without ``botocore.session``, ``botocore.client``,
``botocore.credentials`` or ``endpoints.json``."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, NamedTuple

import botocore
import botocore.session
import pytest
from botocore.configprovider import BOTOCORE_DEFAUT_SESSION_VARIABLES
from botocore.httpsession import where
from botocore.loaders import Loader

from aioglue_session import GlueSessionClient, RetryConfig
from aioglue_session.config_session import ConfigSession, can_replace_session
from aioglue_session.settings import ConfigSource, resolve_settings
from aioglue_session.transport import MockTransport, RawReply

CA = where()  # botocore's default bundle: a CA file that exists
VARIABLES = sorted(BOTOCORE_DEFAUT_SESSION_VARIABLES)

CONFIG = f"""
[default]
region = eu-central-1

[profile prod]
region = eu-west-1
retry_mode = adaptive
max_attempts = 7
ca_bundle = {CA}

[profile fips]
region = us-west-2
use_fips_endpoint = true

[profile dual]
region = ap-southeast-2
use_dualstack_endpoint = true

[profile iso-dual]
region = us-isof-south-1
use_dualstack_endpoint = true

[profile custom]
region = eu-west-1
endpoint_url = http://127.0.0.1:4566

[profile svc]
region = eu-west-1
services = local-glue

[profile svc-missing]
region = eu-west-1
services = nowhere

[profile ignore]
region = eu-west-1
endpoint_url = http://127.0.0.1:4566
ignore_configured_endpoint_urls = true

[profile bad-mode]
region = eu-west-1
retry_mode = legacy

[profile bad-attempts]
region = eu-west-1
max_attempts = 0

[profile empty-ca]
region = eu-west-1
ca_bundle =

[profile pseudo]
region = fips-us-gov-west-1

[profile in-both]
retry_mode = adaptive

[profile data]
region = eu-west-1
data_path = {{data}}

[services local-glue]
glue =
  endpoint_url = http://127.0.0.1:5000
"""

CREDENTIALS = """
[default]
aws_access_key_id = AKIDDEFAULT

[creds-only]
aws_access_key_id = AKIDCREDSONLY
aws_secret_access_key = creds-only-secret
region = sa-east-1

[in-both]
aws_access_key_id = AKIDINBOTH
region = ca-central-1
"""


class Case(NamedTuple):
    env: dict[str, str] = {}
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    retry: RetryConfig | None = None
    config: str | None = CONFIG
    credentials: str | None = CREDENTIALS


CASES: dict[str, Case] = {
    "region-argument": Case(region="us-east-1"),
    "default-profile": Case(),
    "no-region": Case(config="", credentials=None),
    "aws-region-env": Case(env={"AWS_REGION": "ap-northeast-1"}),
    "aws-default-region-env": Case(env={"AWS_DEFAULT_REGION": "eu-north-1"}),
    "both-region-envs": Case(env={"AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "eu-west-3"}),
    "named-profile": Case(profile="prod"),
    "aws-profile-env": Case(env={"AWS_PROFILE": "prod"}),
    "aws-default-profile-env": Case(env={"AWS_DEFAULT_PROFILE": "fips"}),
    "both-profile-envs": Case(env={"AWS_PROFILE": "prod", "AWS_DEFAULT_PROFILE": "dual"}),
    "argument-beats-profile-env": Case(profile="dual", env={"AWS_PROFILE": "prod"}),
    "missing-named-profile": Case(profile="nope"),
    "missing-profile-env": Case(env={"AWS_PROFILE": "nope"}),
    "missing-default-profile-is-fine": Case(config="[profile x]\nregion = eu-west-1\n"),
    "region-only-in-credentials-file": Case(profile="creds-only"),
    "profile-in-both-files": Case(profile="in-both"),
    "config-file-missing": Case(env={"AWS_CONFIG_FILE": "/nonexistent/aws/config"}),
    "config-file-missing-credentials-region": Case(
        env={"AWS_CONFIG_FILE": "/nonexistent/aws/config"}, profile="creds-only"
    ),
    "credentials-file-env": Case(
        env={"AWS_SHARED_CREDENTIALS_FILE": "{tmp}/elsewhere"}, profile="creds-only"
    ),
    "both-files-missing": Case(config=None, credentials=None, region="eu-west-1"),
    "malformed-config": Case(config="[default\nregion = x\n"),
    "retry-from-profile": Case(profile="prod"),
    "retry-from-env": Case(env={"AWS_RETRY_MODE": "adaptive", "AWS_MAX_ATTEMPTS": "5"}),
    "retry-argument": Case(profile="prod", retry=RetryConfig(mode="standard", max_attempts=2)),
    "bad-retry-mode-in-profile": Case(profile="bad-mode"),
    "bad-retry-mode-env": Case(env={"AWS_RETRY_MODE": "sometimes"}),
    "bad-max-attempts-in-profile": Case(profile="bad-attempts"),
    "bad-max-attempts-env": Case(env={"AWS_MAX_ATTEMPTS": "many"}),
    "ca-bundle-env": Case(env={"AWS_CA_BUNDLE": CA}),
    "ca-bundle-missing-file": Case(env={"AWS_CA_BUNDLE": "/nonexistent/ca.pem"}),
    "empty-ca-bundle-in-profile": Case(profile="empty-ca"),
    "requests-ca-bundle": Case(env={"REQUESTS_CA_BUNDLE": CA}),
    "fips-profile": Case(profile="fips"),
    "fips-env": Case(env={"AWS_USE_FIPS_ENDPOINT": "true"}, region="us-gov-west-1"),
    "fips-env-false": Case(env={"AWS_USE_FIPS_ENDPOINT": "false"}, region="us-east-1"),
    "dualstack-profile": Case(profile="dual"),
    "dualstack-env": Case(env={"AWS_USE_DUALSTACK_ENDPOINT": "true"}, region="cn-north-1"),
    "dualstack-refused-in-iso": Case(profile="iso-dual"),
    "dualstack-env-refused": Case(
        env={"AWS_USE_DUALSTACK_ENDPOINT": "true", "AWS_USE_FIPS_ENDPOINT": "true"},
        region="eu-isoe-west-1",
    ),
    "fips-pseudo-region": Case(region="fips-us-east-1"),
    "fips-pseudo-region-in-profile": Case(profile="pseudo"),
    "endpoint-argument": Case(endpoint_url="https://example.test", region="eu-west-1"),
    "endpoint-url-glue-env": Case(env={"AWS_ENDPOINT_URL_GLUE": "http://127.0.0.1:7000"}),
    "endpoint-url-env": Case(env={"AWS_ENDPOINT_URL": "https://proxy.internal:8443"}),
    "endpoint-url-in-profile": Case(profile="custom"),
    "services-section": Case(profile="svc"),
    "missing-services-section": Case(profile="svc-missing"),
    "ignore-configured-in-profile": Case(profile="ignore"),
    "ignore-configured-env": Case(
        env={
            "AWS_ENDPOINT_URL_GLUE": "http://127.0.0.1:4",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
        }
    ),
    "custom-endpoint-data-env": Case(env={"AWS_DATA_PATH": "{data}"}, region="eu-west-1"),
    "custom-endpoint-data-in-profile": Case(profile="data"),
    "data-path-without-endpoints": Case(env={"AWS_DATA_PATH": "{tmp}"}, region="eu-west-1"),
}


@functools.cache
def custom_endpoints_json() -> str:
    """botocore's endpoints.json naming its own host for glue in eu-west-1."""
    data = Loader().load_data("endpoints")
    aws = next(p for p in data["partitions"] if p["partition"] == "aws")
    aws["services"]["glue"]["endpoints"]["eu-west-1"] = {"hostname": "glue.internal.example"}
    return json.dumps(data)


def custom_endpoint_data(folder: Path) -> Path:
    folder.mkdir()
    (folder / "endpoints.json").write_text(custom_endpoints_json())
    return folder


def apply(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The case's files and environment, and nothing else from the machine."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name in ("REQUESTS_CA_BUNDLE",):
            monkeypatch.delenv(name)
    folders = {"data": str(custom_endpoint_data(tmp_path / "data")), "tmp": str(tmp_path)}
    (tmp_path / "elsewhere").write_text("[creds-only]\nregion = me-south-1\n")
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    if case.config is not None:
        config.write_text(case.config.replace("{data}", folders["data"]))
    if case.credentials is not None:
        credentials.write_text(case.credentials)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    for name, value in case.env.items():
        monkeypatch.setenv(name, value.format(**folders))


def outcome(make: Any, case: Case) -> Any:
    """The settings resolved through a new session from ``make``, or the exception's class."""
    try:
        session: ConfigSource = make(case.profile)
        return resolve_settings(
            session, region=case.region, endpoint_url=case.endpoint_url, retry=case.retry
        )
    except Exception as exc:
        return type(exc)


def real_session(profile: str | None) -> botocore.session.Session:
    # As ClientConfig.resolve makes it when it does not use a ConfigSession.
    return botocore.session.Session(profile=profile, include_builtin_handlers=False)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_settings_resolve_as_through_a_botocore_session(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(case, tmp_path, monkeypatch)
    expected = outcome(real_session, case)
    assert outcome(ConfigSession, case) == expected


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_session_variable_and_the_config_read_the_same(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(case, tmp_path, monkeypatch)

    def answers(session: Any) -> dict[str, Any]:
        found: dict[str, Any] = {}
        reads = {
            **{name: lambda n=name: session.get_config_variable(n) for name in VARIABLES},
            "full_config": lambda: session.full_config,
            "scoped_config": session.get_scoped_config,
            "profile": lambda: session.profile,
            "instance_variables": session.instance_variables,
            "search_paths": lambda: session.get_component("data_loader").search_paths,
        }
        for what, read in reads.items():
            try:
                found[what] = read()
            except Exception as exc:
                found[what] = type(exc)
        return found

    assert answers(ConfigSession(case.profile)) == answers(real_session(case.profile))


def test_an_unknown_component_is_botocores_error() -> None:
    with pytest.raises(ValueError, match="Unknown component"):
        ConfigSession().get_component("endpoint_resolver")


async def test_a_session_initializer_keeps_the_botocore_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An initializer may change any new Session's configuration: only real sessions run it.
    apply(Case(config="[default]\nregion = eu-west-1\n"), tmp_path, monkeypatch)
    seen: list[Any] = []

    def initializer(session: Any) -> None:
        seen.append(session)
        session.set_config_variable("region", "ap-south-1")

    assert can_replace_session()
    botocore.register_initializer(initializer)
    try:
        assert not can_replace_session()
        async with GlueSessionClient(
            aws_access_key_id="AKIDINIT",
            aws_secret_access_key="init-secret",
            transport=MockTransport(lambda request: RawReply(200, {}, b"{}")),
        ) as glue:
            assert glue.region == "ap-south-1"
    finally:
        botocore.unregister_initializer(initializer)
    assert [type(s) for s in seen] == [botocore.session.Session]


SESSIONLESS = """
    import asyncio, json, os, sys
    import botocore.loaders

    loaded = []
    load = botocore.loaders.Loader.load_data_with_path

    def spy(self, name):
        loaded.append(name)
        return load(self, name)

    botocore.loaders.Loader.load_data_with_path = spy

    from aioglue_session import GlueSessionClient
    from aioglue_session.transport import MockTransport, RawReply

    def handler(request):
        return RawReply(200, {"x-amzn-RequestId": "rid"}, b'{"Session": {"Id": "s-1"}}')

    async def main(region):
        async with GlueSessionClient(
            region=region, aws_access_key_id="AKIDCOLD", aws_secret_access_key="cold-secret",
            transport=MockTransport(handler),
        ) as glue:
            return (await glue.get_session("s-1")).id, glue.endpoint_url

    sid, url = asyncio.run(main(sys.argv[1]))
    print(json.dumps({
        "id": sid,
        "url": url,
        "modules": [m for m in ("botocore.session", "botocore.client", "botocore.credentials")
                    if m in sys.modules],
        "loaded": [name for name in loaded if "/" not in name],
    }))
"""


def run_sessionless(region: str, tmp_path: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OTEL_"))}
    env["AWS_CONFIG_FILE"] = str(tmp_path / "config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "credentials")
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SESSIONLESS), region],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_explicit_keys_open_without_botocore_session_credentials_or_endpoints_json(
    tmp_path: Path,
) -> None:
    result = run_sessionless("eu-west-1", tmp_path)
    assert result == {
        "id": "s-1",
        "url": "https://glue.eu-west-1.amazonaws.com",
        "modules": [],
        "loaded": ["partitions"],  # for the endpoint rules; never "endpoints"
    }


def test_a_fips_pseudo_region_still_reads_endpoints_json(tmp_path: Path) -> None:
    # FIPS can be refused, so the legacy endpoint data is read (the spy above does see it).
    result = run_sessionless("fips-us-east-1", tmp_path)
    assert result["url"] == "https://glue-fips.us-east-1.amazonaws.com"
    assert "botocore.session" not in result["modules"]  # (botocore.client holds the bridge)
    assert result["loaded"] == ["endpoints", "partitions"]
