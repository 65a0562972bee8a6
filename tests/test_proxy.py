"""Forward proxies on the real wire, boto3 side by side.

A real ``proxy.py`` (with and without ``--basic-auth``) and a small in-test proxy that records
each request head (``tests/wire.py``) sit between the clients and a local Glue-like endpoint
(https with ``trustme`` certificates, or plain http). Every expectation is what boto3 does in the
same test: which proxy applies (``proxies=`` over the environment, ``HTTPS_PROXY`` /
``HTTP_PROXY`` / ``NO_PROXY`` in either case), a ``CONNECT`` tunnel for https and an
absolute-form request for http, the ``Proxy-Authorization`` header, and botocore's
``ProxyConnectionError`` for a proxy that cannot be reached or refuses (407), after retries.

Deliberate differences, each pinned by a test: a ``"scheme://host"`` key in ``proxies=`` is used
(botocore documents it but looks up the scheme only); the redacted proxy URL keeps the user name
(``user:***@``, where botocore writes ``***:***@``).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import subprocess
import sys
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ProxyConnectionError,
    SSLError,
)
from botocore.httpsession import ProxyConfiguration
from conftest import InstantSleep
from faultserver import FaultServer
from wire import (
    Boto3Sleeps,
    ForwardProxy,
    ProxyPy,
    boto3_in_thread,
    clean_network_env,
    client,
    closed_port,
    ours,
    outcome,
    proxy_py,
    server_context,
    write_ca,
)

from aioglue_session.errors import GlueError
from aioglue_session.settings import ClientConfig, Proxy

USER = "glue-user"
PASSWORD = "s3cr:t/p@ss%"  # every character that must be percent-encoded in a URL
ENCODED = "s3cr%3At%2Fp%40ss%25"
TOKEN = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ca: trustme.CA
) -> Iterator[pytest.MonkeyPatch]:
    """A clean environment trusting the test CA (AWS_CA_BUNDLE); yields the monkeypatch to set
    proxy variables with."""
    clean_network_env(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_CA_BUNDLE", write_ca(ca, tmp_path / "ca.pem"))
    yield monkeypatch


@pytest.fixture
def boto3_sleeps(monkeypatch: pytest.MonkeyPatch) -> Boto3Sleeps:
    return Boto3Sleeps(monkeypatch)


@pytest.fixture
async def tls_server(ca: trustme.CA) -> AsyncIterator[FaultServer]:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    async with FaultServer(ssl_context=server_context(cert)) as s:
        yield s


@pytest.fixture
async def http_server() -> AsyncIterator[FaultServer]:
    async with FaultServer() as s:
        yield s


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    async with ForwardProxy() as p:
        yield p


@pytest.fixture(scope="module")
def real_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyPy]:
    with proxy_py(tmp_path_factory.mktemp("proxy-py")) as p:
        yield p


@pytest.fixture(scope="module")
def real_auth_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyPy]:
    with proxy_py(tmp_path_factory.mktemp("proxy-py-auth"), basic_auth=f"{USER}:{PASSWORD}") as p:
        yield p


def host_port(url: str) -> str:
    return url.split("://", 1)[1].rstrip("/")


# --- https in a CONNECT tunnel, http in absolute form ---------------------------------------------


async def test_https_goes_through_proxy_py_in_a_connect_tunnel(
    env: pytest.MonkeyPatch, tls_server: FaultServer, real_proxy: ProxyPy, sleep: InstantSleep
) -> None:
    mark = real_proxy.mark()
    theirs = await boto3_in_thread(tls_server.url, proxies={"https": real_proxy.url})
    mine = await ours(tls_server.url, sleep, proxies={"https": real_proxy.url})
    assert mine == theirs["Id"] == "s-1"
    lines = await real_proxy.access_lines(mark, want=2)
    # One tunnel each, to the endpoint's host and port; TLS inside it verified against the
    # endpoint's certificate (the test CA, via AWS_CA_BUNDLE).
    assert len(lines) == 2
    assert all(f"CONNECT {host_port(tls_server.url)} " in line for line in lines)
    assert tls_server.count == 2


async def test_tls_in_the_tunnel_is_verified_against_the_endpoint_name(
    env: pytest.MonkeyPatch,
    ca: trustme.CA,
    proxy: ForwardProxy,
    sleep: InstantSleep,
    boto3_sleeps: Boto3Sleeps,
) -> None:
    # A certificate the CA signed, for another name: only end-to-end verification refuses it.
    async with FaultServer(ssl_context=server_context(ca.issue_cert("glue.example"))) as server:
        theirs = await boto3_in_thread(server.url, proxies={"https": proxy.url})
        boto3_tunnels = len(proxy.connects)
        mine = await ours(server.url, sleep, proxies={"https": proxy.url})
        assert server.count == 0
    assert isinstance(theirs, SSLError)
    assert isinstance(mine, SSLError)
    assert proxy.connects == [host_port(server.url)] * len(proxy.connects)
    assert boto3_tunnels == 3  # boto3 retries an SSLError...
    assert len(proxy.connects) - boto3_tunnels == 1  # ...this client does not
    assert sleep.delays == []


async def test_plain_http_goes_as_an_absolute_form_request(
    env: pytest.MonkeyPatch, http_server: FaultServer, proxy: ForwardProxy, sleep: InstantSleep
) -> None:
    theirs = await boto3_in_thread(http_server.url, proxies={"http": proxy.url})
    mine = await ours(http_server.url, sleep, proxies={"http": proxy.url})
    assert mine == theirs["Id"] == "s-1"
    assert [h.line for h in proxy.heads] == [f"POST {http_server.url}/ HTTP/1.1"] * 2
    assert proxy.connects == []
    assert http_server.count == 2


# --- which proxy applies: proxies= and the environment --------------------------------------------

GOOD, DEAD = "{good}", "{dead}"

ROUTE_CASES: list[tuple[str, dict[str, str], dict[str, str] | None, str]] = [
    ("HTTPS_PROXY", {"HTTPS_PROXY": GOOD}, None, "proxy"),
    ("https_proxy", {"https_proxy": GOOD}, None, "proxy"),
    ("lower case wins", {"HTTPS_PROXY": DEAD, "https_proxy": GOOD}, None, "proxy"),
    ("HTTP_PROXY is for http", {"HTTP_PROXY": GOOD}, None, "direct"),
    ("NO_PROXY", {"HTTPS_PROXY": DEAD, "NO_PROXY": "127.0.0.1"}, None, "direct"),
    ("no_proxy", {"https_proxy": DEAD, "no_proxy": "localhost,127.0.0.1"}, None, "direct"),
    ("NO_PROXY=*", {"HTTPS_PROXY": DEAD, "NO_PROXY": "*"}, None, "direct"),
    ("NO_PROXY elsewhere", {"HTTPS_PROXY": GOOD, "NO_PROXY": "example.com"}, None, "proxy"),
    ("proxies= over env", {"HTTPS_PROXY": DEAD}, {"https": GOOD}, "proxy"),
    ("proxies={} ignores env", {"HTTPS_PROXY": GOOD}, {}, "direct"),
    ("NO_PROXY not for proxies=", {"NO_PROXY": "127.0.0.1"}, {"https": GOOD}, "proxy"),
    ("proxies= by scheme", {}, {"http": GOOD}, "direct"),
    ("proxies= without a scheme", {}, {"https": "{good_bare}"}, "proxy"),
    ("empty value", {"HTTPS_PROXY": GOOD}, {"https": ""}, "direct"),
]


def _fill(value: str, good: str, dead: str) -> str:
    return value.format(good=good, dead=dead, good_bare=good.split("://", 1)[1])


@pytest.mark.parametrize(
    ("case", "variables", "proxies", "route"), ROUTE_CASES, ids=[c[0] for c in ROUTE_CASES]
)
async def test_the_proxy_is_chosen_as_boto3_chooses_it(
    case: str,
    variables: dict[str, str],
    proxies: dict[str, str] | None,
    route: str,
    env: pytest.MonkeyPatch,
    tls_server: FaultServer,
    proxy: ForwardProxy,
    sleep: InstantSleep,
    boto3_sleeps: Boto3Sleeps,
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    for name, value in variables.items():
        env.setenv(name, _fill(value, proxy.url, dead))
    if proxies is not None:
        proxies = {k: _fill(v, proxy.url, dead) for k, v in proxies.items()}

    theirs = await boto3_in_thread(tls_server.url, proxies=proxies)
    boto3_route = "proxy" if proxy.connects else "direct"
    proxy.heads.clear()
    mine = await ours(tls_server.url, sleep, proxies=proxies)
    my_route = "proxy" if proxy.connects else "direct"

    assert (outcome(theirs), boto3_route) == ("ok", route)
    assert (outcome(mine), my_route) == ("ok", route)
    assert proxy.connects in ([], [host_port(tls_server.url)])


async def test_a_scheme_and_host_key_is_preferred_to_the_scheme(
    env: pytest.MonkeyPatch,
    tls_server: FaultServer,
    proxy: ForwardProxy,
    sleep: InstantSleep,
    boto3_sleeps: Boto3Sleeps,
) -> None:
    # botocore's Config documents {"http://hostname": ...} keys, but only looks the scheme up:
    # boto3 goes to the "https" proxy (here unreachable). This client honours the host's key,
    # as the documentation (and requests) mean it.
    proxies = {"https://127.0.0.1": proxy.url, "https": f"http://127.0.0.1:{closed_port()}"}
    theirs = await boto3_in_thread(tls_server.url, proxies=proxies)
    assert isinstance(theirs, ProxyConnectionError)
    assert proxy.connects == []
    mine = await ours(tls_server.url, sleep, proxies=proxies)
    assert mine == "s-1"
    assert proxy.connects == [host_port(tls_server.url)]


# --- credentials ----------------------------------------------------------------------------------


async def test_proxy_credentials_are_percent_decoded_and_accepted_by_proxy_py(
    env: pytest.MonkeyPatch,
    tls_server: FaultServer,
    real_auth_proxy: ProxyPy,
    sleep: InstantSleep,
) -> None:
    proxies = {"https": real_auth_proxy.url_with(f"{USER}:{ENCODED}")}
    mark = real_auth_proxy.mark()
    theirs = await boto3_in_thread(tls_server.url, proxies=proxies)
    mine = await ours(tls_server.url, sleep, proxies=proxies)
    assert mine == theirs["Id"] == "s-1"
    lines = await real_auth_proxy.access_lines(mark, want=2)
    assert len(lines) == 2
    assert all(f"CONNECT {host_port(tls_server.url)} " in line for line in lines)


async def test_a_wrong_password_is_proxy_connection_error_after_retries(
    env: pytest.MonkeyPatch,
    tls_server: FaultServer,
    real_auth_proxy: ProxyPy,
    sleep: InstantSleep,
    boto3_sleeps: Boto3Sleeps,
) -> None:
    proxies = {"https": real_auth_proxy.url_with(f"{USER}:wrong-{ENCODED}")}
    theirs = await boto3_in_thread(tls_server.url, proxies=proxies)
    mine = await ours(tls_server.url, sleep, proxies=proxies)
    # proxy.py answers the CONNECT with 407: boto3 raises ProxyConnectionError, after retrying.
    assert type(theirs) is ProxyConnectionError
    assert type(mine) is ProxyConnectionError
    assert len(sleep.delays) == len(boto3_sleeps.delays) == 2
    assert str(mine) == (
        f'Failed to connect to proxy URL: "http://{USER}:***@127.0.0.1:{real_auth_proxy.port}"'
    )
    assert mine.kwargs["error"].status == 407
    assert tls_server.count == 0


@pytest.mark.parametrize("scheme", ["https", "http"])
async def test_the_proxy_authorization_header_is_boto3s(
    scheme: str,
    env: pytest.MonkeyPatch,
    tls_server: FaultServer,
    http_server: FaultServer,
    proxy: ForwardProxy,
    sleep: InstantSleep,
) -> None:
    server = tls_server if scheme == "https" else http_server
    proxies = {scheme: proxy.url_with(f"{USER}:{ENCODED}")}
    theirs = await boto3_in_thread(server.url, proxies=proxies)
    mine = await ours(server.url, sleep, proxies=proxies)
    assert mine == theirs["Id"] == "s-1"
    # On the CONNECT for https; on the absolute-form request itself for http.
    assert [h.method for h in proxy.heads] == ["CONNECT" if scheme == "https" else "POST"] * 2
    boto3_head, my_head = proxy.heads
    assert boto3_head.headers["Proxy-Authorization"] == f"Basic {TOKEN}"
    assert my_head.headers["Proxy-Authorization"] == f"Basic {TOKEN}"
    if scheme == "https":
        # The tunnelled request carries no proxy credentials to the endpoint.
        assert [r.headers.get("Proxy-Authorization") for r in server.requests] == [None, None]


@pytest.mark.parametrize(
    ("refusal", "error"),
    [(407, ProxyConnectionError), (502, ProxyConnectionError), (0, ConnectionClosedError)],
    ids=["407", "502", "hang-up"],
)
async def test_a_refused_tunnel_is_retried_as_boto3_retries_it(
    refusal: int,
    error: type[Exception],
    env: pytest.MonkeyPatch,
    tls_server: FaultServer,
    sleep: InstantSleep,
    boto3_sleeps: Boto3Sleeps,
) -> None:
    async with ForwardProxy(refuse=refusal) as refusing:
        proxies = {"https": refusing.url_with(f"{USER}:{ENCODED}")}
        theirs = await boto3_in_thread(tls_server.url, proxies=proxies)
        boto3_tunnels = len(refusing.connects)
        mine = await ours(tls_server.url, sleep, proxies=proxies)
        my_tunnels = len(refusing.connects) - boto3_tunnels
    assert type(theirs) is error
    assert type(mine) is error
    assert boto3_tunnels == my_tunnels == 3
    assert len(sleep.delays) == len(boto3_sleeps.delays) == 2
    assert tls_server.count == 0


async def test_an_endpoint_the_proxy_cannot_reach_is_proxy_connection_error(
    env: pytest.MonkeyPatch,
    real_proxy: ProxyPy,
    sleep: InstantSleep,
    boto3_sleeps: Boto3Sleeps,
) -> None:
    # proxy.py answers the CONNECT "502 Bad Gateway".
    url = f"https://127.0.0.1:{closed_port()}"
    theirs = await boto3_in_thread(url, proxies={"https": real_proxy.url})
    mine = await ours(url, sleep, proxies={"https": real_proxy.url})
    assert type(theirs) is ProxyConnectionError
    assert type(mine) is ProxyConnectionError
    assert mine.kwargs["error"].status == 502
    assert len(sleep.delays) == len(boto3_sleeps.delays) == 2


async def test_a_407_to_a_plain_http_request_is_an_error_reply_as_in_boto3(
    env: pytest.MonkeyPatch, http_server: FaultServer, sleep: InstantSleep
) -> None:
    # No tunnel: the proxy's 407 is the reply to the request itself, not retried (a 4xx).
    async with ForwardProxy(refuse=407) as refusing:
        proxies = {"http": refusing.url}
        theirs = await boto3_in_thread(http_server.url, proxies=proxies)
        mine = await ours(http_server.url, sleep, proxies=proxies)
        assert len(refusing.heads) == 2
    assert isinstance(theirs, ClientError)
    assert isinstance(mine, GlueError)
    assert mine.status_code == theirs.response["ResponseMetadata"]["HTTPStatusCode"] == 407
    assert sleep.delays == []
    assert http_server.count == 0


async def test_a_407_to_a_plain_http_request_has_boto3s_error_code(
    env: pytest.MonkeyPatch, http_server: FaultServer, sleep: InstantSleep
) -> None:
    async with ForwardProxy(refuse=407) as refusing:
        proxies = {"http": refusing.url}
        theirs = await boto3_in_thread(http_server.url, proxies=proxies)
        mine = await ours(http_server.url, sleep, proxies=proxies)
    assert theirs.response["Error"]["Code"] == "407"
    assert mine.code == theirs.response["Error"]["Code"]


async def test_an_unreachable_proxy_is_proxy_connection_error_after_retries(
    env: pytest.MonkeyPatch,
    tls_server: FaultServer,
    sleep: InstantSleep,
    boto3_sleeps: Boto3Sleeps,
) -> None:
    port = closed_port()
    proxies = {"https": f"http://{USER}:{ENCODED}@127.0.0.1:{port}"}
    theirs = await boto3_in_thread(tls_server.url, proxies=proxies)
    mine = await ours(tls_server.url, sleep, proxies=proxies)
    assert type(theirs) is ProxyConnectionError
    assert type(mine) is ProxyConnectionError
    assert len(sleep.delays) == len(boto3_sleeps.delays) == 2
    # botocore masks both halves (***:***@); this client keeps the user name.
    assert theirs.kwargs["proxy_url"] == f"http://***:***@127.0.0.1:{port}"
    assert mine.kwargs["proxy_url"] == f"http://{USER}:***@127.0.0.1:{port}"
    assert tls_server.count == 0


async def test_the_password_is_in_no_log_line_repr_or_error(
    env: pytest.MonkeyPatch,
    tls_server: FaultServer,
    http_server: FaultServer,
    proxy: ForwardProxy,
    sleep: InstantSleep,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    userinfo = f"{USER}:{ENCODED}"
    seen: list[str] = []
    errors: list[BaseException] = []
    async with ForwardProxy(refuse=407) as refusing:
        cases = [
            (tls_server.url, {"https": proxy.url_with(userinfo)}),
            (http_server.url, {"http": proxy.url_with(userinfo)}),
            (tls_server.url, {"https": refusing.url_with(userinfo)}),
            (tls_server.url, {"https": f"http://{userinfo}@127.0.0.1:{closed_port()}"}),
        ]
        for url, proxies in cases:
            glue = client(url, sleep, proxies=proxies)
            seen.append(repr(glue))
            try:
                async with glue:
                    seen += [repr(glue), repr(glue.transport)]
                    await glue.get_session("s-1")
            except Exception as exc:
                errors.append(exc)
    assert [type(e) for e in errors] == [ProxyConnectionError, ProxyConnectionError]
    for exc in errors:
        seen += [str(exc), repr(exc), repr(exc.kwargs), "".join(traceback.format_exception(exc))]
        seen += [repr(exc.__cause__), repr(exc.__context__)]
        assert f"{USER}:***@" in str(exc)
    seen.append(caplog.text)
    assert f"proxy http://{USER}:***@127.0.0.1:{proxy.port}" in caplog.text
    text = "\n".join(seen)
    for secret in (PASSWORD, ENCODED, TOKEN, "s3cr"):
        assert secret not in text


# --- the URL forms boto3 takes --------------------------------------------------------------------

URL_FORMS = [
    ("http://proxy.internal:3128", "http://proxy.internal:3128", "http://proxy.internal:3128"),
    ("proxy.internal:3128", "http://proxy.internal:3128", "http://proxy.internal:3128"),
    ("//proxy.internal:3128", "http://proxy.internal:3128", "http://proxy.internal:3128"),
    (f"http://{USER}:{ENCODED}@p:8080", "http://p:8080", f"http://{USER}:***@p:8080"),
    (f"{USER}:{ENCODED}@p:8080", "http://p:8080", f"http://{USER}:***@p:8080"),
    ("http://only-user@p:8080", "http://p:8080", "http://only-user@p:8080"),
    ("https://p:443", "https://p:443", "https://p:443"),
]


@pytest.mark.parametrize(("given", "url", "display"), URL_FORMS)
def test_proxy_urls_are_read_as_botocore_reads_them(given: str, url: str, display: str) -> None:
    proxy = Proxy.from_url(given)
    assert (proxy.url, proxy.display) == (url, display)
    assert repr(proxy) == f"Proxy({display!r})"
    # The same Proxy-Authorization botocore builds (none without a password).
    config = ProxyConfiguration(proxies={"https": given})
    fixed = config.proxy_url_for("https://glue.us-east-1.amazonaws.com/")
    assert dict(proxy.headers) == config.proxy_headers_for(fixed)


@pytest.mark.parametrize(
    ("proxies", "error"),
    [
        (["http://p:1"], TypeError),
        ({"https": 3128}, TypeError),
        ({"https": f"http://{USER}:{ENCODED}@:3128"}, ValueError),
        ({"https": f"http://{USER}:{ENCODED}@p:port"}, ValueError),
        ({"https": f"http://{USER}:s3cr/t@p:3128"}, ValueError),
    ],
)
def test_bad_proxies_are_refused_at_construction_without_the_password(
    proxies: Any, error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        ClientConfig(proxies=proxies)
    message = "".join(traceback.format_exception(caught.value))
    assert "s3cr" not in message
    if error is ValueError:
        assert str(caught.value).startswith("proxies['https'] is not a proxy URL")


# --- the command line reads the same environment --------------------------------------------------


async def test_the_cli_honours_http_proxy_and_no_proxy(
    env: pytest.MonkeyPatch, http_server: FaultServer, proxy: ForwardProxy
) -> None:
    import os

    def run(**extra: str) -> subprocess.CompletedProcess[str]:
        cli_env = {**os.environ, **extra}
        args = ["get", "s-1", "--endpoint-url", http_server.url, "--region", "us-east-1"]
        return subprocess.run(
            [sys.executable, "-m", "aioglue_session", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=cli_env,
        )

    done = await asyncio.to_thread(run, HTTP_PROXY=proxy.url)
    assert done.returncode == 0, done.stderr
    assert [h.line for h in proxy.heads] == [f"POST {http_server.url}/ HTTP/1.1"]
    done = await asyncio.to_thread(run, http_proxy=proxy.url, no_proxy="127.0.0.1")
    assert done.returncode == 0, done.stderr
    assert len(proxy.heads) == 1
    assert http_server.count == 2
