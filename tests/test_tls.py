"""TLS against a real local HTTPS endpoint with ``trustme`` certificates, boto3 side by side.

Every expectation is what boto3 does against the same server in the same test: which CA bundle
is trusted (``AWS_CA_BUNDLE``, the profile's ``ca_bundle``, ``REQUESTS_CA_BUNDLE``, else
botocore's own ``where()`` bundle, never the system store) and which error a certificate that
does not verify gives (botocore's ``SSLError``). One deliberate difference: boto3 retries that
``SSLError`` (botocore counts it as a transient connection error) and connects three times;
this client connects once.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import botocore.httpsession
import pytest
import trustme
from botocore.endpoint import EndpointCreator
from botocore.exceptions import InvalidConfigError, SSLError
from conftest import InstantSleep
from faultserver import FaultServer
from wire import (
    Boto3Sleeps,
    Relay,
    boto3_in_thread,
    clean_network_env,
    client,
    ours,
    outcome,
    server_context,
    write_ca,
)

from aioglue_session import GlueSessionClient, RetryConfig, Timeouts


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    yield clean_network_env(monkeypatch, tmp_path)


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    return write_ca(ca, tmp_path / "ca.pem")


@pytest.fixture
def boto3_sleeps(monkeypatch: pytest.MonkeyPatch) -> Boto3Sleeps:
    return Boto3Sleeps(monkeypatch)


@pytest.fixture
async def tls_server(ca: trustme.CA) -> AsyncIterator[FaultServer]:
    """A Glue-like endpoint at https://127.0.0.1:<port> with a certificate for 127.0.0.1 and
    localhost, issued by ``ca``."""
    cert = ca.issue_cert("127.0.0.1", "localhost")
    async with FaultServer(ssl_context=server_context(cert)) as s:
        yield s


# --- which bundle is trusted ---------------------------------------------------------------------


def _setup(case: str, monkeypatch: pytest.MonkeyPatch, config: Path, good: str, other: str) -> None:
    if case == "AWS_CA_BUNDLE":
        monkeypatch.setenv("AWS_CA_BUNDLE", good)
    elif case == "profile ca_bundle":
        config.write_text(f"[default]\nca_bundle = {good}\n")
    elif case == "REQUESTS_CA_BUNDLE":
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", good)
    elif case == "AWS_CA_BUNDLE over REQUESTS_CA_BUNDLE":
        monkeypatch.setenv("AWS_CA_BUNDLE", good)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", other)
    elif case == "AWS_CA_BUNDLE over the profile":
        monkeypatch.setenv("AWS_CA_BUNDLE", good)
        config.write_text(f"[default]\nca_bundle = {other}\n")
    elif case == "the profile over REQUESTS_CA_BUNDLE":
        config.write_text(f"[default]\nca_bundle = {good}\n")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", other)
    elif case == "REQUESTS_CA_BUNDLE, untrusting":
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", other)
    else:  # pragma: no cover
        raise AssertionError(case)


BUNDLE_CASES = [
    ("AWS_CA_BUNDLE", "ok"),
    ("profile ca_bundle", "ok"),
    ("REQUESTS_CA_BUNDLE", "ok"),
    ("AWS_CA_BUNDLE over REQUESTS_CA_BUNDLE", "ok"),
    ("AWS_CA_BUNDLE over the profile", "ok"),
    ("the profile over REQUESTS_CA_BUNDLE", "ok"),
    ("REQUESTS_CA_BUNDLE, untrusting", "SSLError"),
]


@pytest.mark.parametrize(("case", "expected"), BUNDLE_CASES, ids=[c for c, _ in BUNDLE_CASES])
async def test_the_ca_bundle_is_picked_as_boto3_picks_it(
    case: str,
    expected: str,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    ca_file: str,
    tls_server: FaultServer,
    sleep: InstantSleep,
    boto3_sleeps: Boto3Sleeps,
) -> None:
    other = write_ca(trustme.CA(), tmp_path / "other-ca.pem")
    _setup(case, monkeypatch, env, ca_file, other)
    theirs = await boto3_in_thread(tls_server.url)
    mine = await ours(tls_server.url, sleep)
    assert outcome(theirs) == expected
    assert outcome(mine) == expected
    if expected == "ok":
        assert mine == theirs["Id"] == "s-1"


async def test_without_a_bundle_the_default_is_botocores_not_the_systems(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    ca_file: str,
    tls_server: FaultServer,
    sleep: InstantSleep,
    boto3_sleeps: Boto3Sleeps,
) -> None:
    # The system store trusts the test CA, and only it (OpenSSL reads these variables)...
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    monkeypatch.setenv("SSL_CERT_DIR", str(empty))
    assert ssl.create_default_context().cert_store_stats()["x509_ca"] == 1
    # ...but boto3 trusts botocore's where() bundle (certifi's), not the system store: refused.
    theirs = await boto3_in_thread(tls_server.url)
    mine = await ours(tls_server.url, sleep)
    assert outcome(theirs) == outcome(mine) == "SSLError"

    # The bundle where() names is what both trust: point it at the test CA and both connect.
    monkeypatch.setattr(botocore.httpsession, "where", lambda: ca_file)
    monkeypatch.delenv("SSL_CERT_FILE")
    theirs = await boto3_in_thread(tls_server.url)
    mine = await ours(tls_server.url, sleep)
    assert mine == theirs["Id"] == "s-1"


async def test_the_default_bundle_is_read_in_the_start_up_thread(
    env: Path, monkeypatch: pytest.MonkeyPatch, ca_file: str, tls_server: FaultServer
) -> None:
    import threading

    loop_thread = threading.get_ident()
    read_in: list[int] = []

    def where() -> str:
        read_in.append(threading.get_ident())
        return ca_file

    monkeypatch.setattr(botocore.httpsession, "where", where)
    async with client(tls_server.url, InstantSleep()) as glue:
        assert (await glue.get_session("s-1")).id == "s-1"
    assert len(read_in) == 1
    assert read_in[0] != loop_thread


async def test_a_blank_ca_bundle_is_botocores_invalid_config_error(
    env: Path, monkeypatch: pytest.MonkeyPatch, tls_server: FaultServer, sleep: InstantSleep
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", " ")
    theirs = await boto3_in_thread(tls_server.url)
    mine = await ours(tls_server.url, sleep)
    if hasattr(EndpointCreator, "_validate_verify_value"):
        assert isinstance(theirs, InvalidConfigError)
    else:  # older botocores (1.34) try to open a file named " ": SSLError, nothing sent either
        assert isinstance(theirs, SSLError)
    assert isinstance(mine, InvalidConfigError)
    assert tls_server.count == 0


# --- a certificate that does not verify ----------------------------------------------------------


@pytest.fixture
async def untrusted_server() -> AsyncIterator[FaultServer]:
    """An endpoint whose certificate comes from a CA nobody trusts."""
    cert = trustme.CA().issue_cert("127.0.0.1", "localhost")
    async with FaultServer(ssl_context=server_context(cert)) as s:
        yield s


@pytest.fixture
async def misnamed_server(ca: trustme.CA) -> AsyncIterator[FaultServer]:
    """An endpoint whose trusted certificate is for another name (glue.example)."""
    async with FaultServer(ssl_context=server_context(ca.issue_cert("glue.example"))) as s:
        yield s


@pytest.mark.parametrize("which", ["untrusted CA", "another host's name"])
async def test_a_certificate_that_does_not_verify_is_ssl_error_sent_once(
    which: str,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    ca_file: str,
    untrusted_server: FaultServer,
    misnamed_server: FaultServer,
    sleep: InstantSleep,
    boto3_sleeps: Boto3Sleeps,
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", ca_file)
    server = untrusted_server if which == "untrusted CA" else misnamed_server
    async with Relay(server.port) as relay:
        url = f"https://127.0.0.1:{relay.port}"
        theirs = await boto3_in_thread(url)
        boto3_connections, relay.connections = relay.connections, 0
        started = time.monotonic()
        mine = await ours(url, sleep)
        elapsed = time.monotonic() - started
        mine_connections = relay.connections

    # boto3: botocore's SSLError, after 3 attempts (botocore retries it as transient).
    assert isinstance(theirs, SSLError)
    assert boto3_connections == 3
    assert len(boto3_sleeps.delays) == 2
    # Here: the same class and kind of failure, at once: one connection, no backoff.
    assert isinstance(mine, SSLError)
    assert isinstance(mine.kwargs["error"], ssl.SSLCertVerificationError)
    assert mine_connections == 1
    assert sleep.delays == []
    # (One connection and no backoff above say "at once"; this only bounds client start-up plus
    # one handshake, which took 2.2 s on a loaded CI machine.)
    assert elapsed < 10
    assert server.count == 0  # nothing reached a server that did not verify
    assert str(mine).startswith(f"SSL validation failed for {url}")
    assert str(theirs).startswith(f"SSL validation failed for {url}")
    if which == "untrusted CA":
        assert "unable to get local issuer certificate" in str(theirs)
        assert "unable to get local issuer certificate" in str(mine)
    else:
        assert "doesn't match 'glue.example'" in str(theirs)
        assert "IP address mismatch" in str(mine)


async def test_a_tls_failure_that_is_not_the_certificate_is_retried_as_boto3_does(
    env: Path, sleep: InstantSleep, boto3_sleeps: Boto3Sleeps
) -> None:
    # A plain-http server on an https URL: the handshake fails without a certificate to check.
    async with FaultServer() as plain, Relay(plain.port) as relay:
        url = f"https://127.0.0.1:{relay.port}"
        theirs = await boto3_in_thread(url)
        boto3_connections, relay.connections = relay.connections, 0
        mine = await ours(url, sleep)
        assert isinstance(theirs, SSLError)
        assert isinstance(mine, SSLError)
        assert not isinstance(mine.kwargs["error"], ssl.SSLCertVerificationError)
        assert relay.connections == boto3_connections == 3
        assert len(sleep.delays) == len(boto3_sleeps.delays) == 2


async def test_a_slow_handshake_is_the_connect_timeouts_not_the_reads(
    env: Path, monkeypatch: pytest.MonkeyPatch, ca_file: str, tls_server: FaultServer
) -> None:
    # The TLS handshake takes ~0.6 s (a relay that waits before relaying), longer than the read
    # timeout: as with boto3 (and aiohttp's sock_read), opening a connection is the connect
    # timeout's business, and the read clock starts once the request goes out.
    monkeypatch.setenv("AWS_CA_BUNDLE", ca_file)
    port = urlsplit(tls_server.url).port
    assert port is not None
    async with (
        Relay(port, delay=0.6) as relay,
        GlueSessionClient(
            region="us-east-1",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
            endpoint_url=f"https://127.0.0.1:{relay.port}",
            timeouts=Timeouts(connect=5, read=0.3),
            retry=RetryConfig(max_attempts=1),
        ) as glue,
    ):
        session = await glue.get_session("s-1")
    assert session.id == "s-1"
    assert relay.connections == 1
