"""Real network parts for tests/test_tls.py and tests/test_proxy.py, all on 127.0.0.1.

* :class:`ForwardProxy`: a small asyncio HTTP forward proxy that records every request head it
  gets (``CONNECT host:port`` or an absolute-form request line, with its ``Proxy-Authorization``),
  tunnels or relays, or refuses with a status (``407``).
* :class:`Relay`: a TCP relay in front of a server that counts connections (TLS handshakes that
  fail never reach the server's application, so they are counted here).
* :func:`proxy_py`: the real ``proxy.py`` forward proxy in a subprocess, its access log readable.
* :func:`boto3_get_session`: the same ``GetSession`` with boto3, with boto3's retry sleeps
  recorded instead of slept (see :class:`Boto3Sleeps`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import trustme
from botocore.config import Config
from conftest import InstantSleep
from multidict import CIMultiDict

from aioglue_session import GlueSessionClient, Timeouts

PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")


def clean_network_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No AWS settings, proxies or CA bundles from the machine; static test keys. Returns the
    (empty) shared config file."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.lower() in PROXY_VARIABLES:
            monkeypatch.delenv(name)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "aws-config"
    config.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDWIRETEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wire-secret")
    return config


def server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return ctx


def write_ca(ca: trustme.CA, path: Path) -> str:
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    from _moto import free_port

    return free_port()


# --- an in-test forward proxy ---------------------------------------------------------------------


class Head:
    """One request head a proxy received: the request line and its headers."""

    def __init__(self, line: str, headers: CIMultiDict[str]) -> None:
        self.line = line
        self.method, self.target, _ = line.split(" ", 2)
        self.headers = headers

    def __repr__(self) -> str:
        return f"Head({self.line!r})"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class _Server:
    """An asyncio TCP server on a free 127.0.0.1 port that cancels its connections at exit."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> Any:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await self.handle(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Stopped by __aexit__: end quietly (asyncio's stream callback would log a
            # cancelled handler as an error).
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def _relay(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        host: str,
        port: int,
        first: bytes = b"",
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, port)
        self._writers.add(up_writer)
        try:
            if first:
                up_writer.write(first)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._writers.discard(up_writer)
            up_writer.close()


class ForwardProxy(_Server):
    """A forward proxy: ``CONNECT`` tunnels and absolute-form requests, each head recorded.

    With ``refuse=407`` (or another status) it answers every request with that status and
    closes; with ``refuse=0`` it closes without answering. The tunnel or request is never made.
    """

    def __init__(self, *, refuse: int | None = None) -> None:
        super().__init__()
        self.refuse = refuse
        self.heads: list[Head] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_with(self, userinfo: str) -> str:
        return f"http://{userinfo}@127.0.0.1:{self.port}"

    @property
    def connects(self) -> list[str]:
        """The ``host:port`` of every CONNECT received."""
        return [h.target for h in self.heads if h.method == "CONNECT"]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raw = await reader.readuntil(b"\r\n\r\n")
        line, *lines = raw.decode("latin-1").rstrip("\r\n").split("\r\n")
        headers: CIMultiDict[str] = CIMultiDict()
        for header in lines:
            name, _, value = header.partition(":")
            headers.add(name.strip(), value.strip())
        head = Head(line, headers)
        self.heads.append(head)
        if self.refuse == 0:
            return
        if self.refuse is not None:
            writer.write(
                f"HTTP/1.1 {self.refuse} Refused\r\n"
                'Proxy-Authenticate: Basic realm="test"\r\n'
                "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
            return
        if head.method == "CONNECT":
            host, _, port = head.target.rpartition(":")
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await self._relay(reader, writer, host, int(port))
        else:
            # Relay as is: the server on the other side takes the absolute form.
            target = urlsplit(head.target)
            assert target.hostname is not None, head.target
            await self._relay(reader, writer, target.hostname, target.port or 80, first=raw)


class Relay(_Server):
    """A TCP relay to ``127.0.0.1:target_port`` counting the connections made through it;
    ``delay`` seconds pass before it starts relaying a connection (a slow TLS handshake)."""

    def __init__(self, target_port: int, *, delay: float = 0.0) -> None:
        super().__init__()
        self.target_port = target_port
        self.delay = delay
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        await self._relay(reader, writer, "127.0.0.1", self.target_port)


# --- proxy.py in a subprocess ---------------------------------------------------------------------


class ProxyPy:
    """A running ``proxy.py``: its URL and its access log."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"

    def url_with(self, userinfo: str) -> str:
        return f"http://{userinfo}@127.0.0.1:{self.port}"

    def mark(self) -> int:
        """A position in the log: :meth:`access_lines` reads what comes after it."""
        return self.log.stat().st_size if self.log.exists() else 0

    async def access_lines(self, since: int, *, want: int, timeout: float = 10.0) -> list[str]:
        """The access-log lines (``CONNECT host:port`` ...) written since ``since``, once there
        are ``want`` of them (proxy.py writes a line when the client's connection closes)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.log.open("rb") as f:
                f.seek(since)
                text = f.read().decode("utf-8", "replace")
            lines = [line for line in text.splitlines() if "access_log" in line]
            if len(lines) >= want or time.monotonic() > deadline:
                return lines
            await asyncio.sleep(0.05)


@contextlib.contextmanager
def proxy_py(directory: Path, *, basic_auth: str | None = None) -> Iterator[ProxyPy]:
    """Start ``python -m proxy`` on a free loopback port (``--port 0 --port-file``); stop it at
    the end."""
    directory.mkdir(parents=True, exist_ok=True)
    port_file, log = directory / "proxy.port", directory / "proxy.log"
    args = [
        sys.executable,
        "-m",
        "proxy",
        "--hostname",
        "127.0.0.1",
        "--port",
        "0",
        "--port-file",
        str(port_file),
        "--num-workers",
        "1",
        "--num-acceptors",
        "1",
        "--log-file",
        str(log),
    ]
    if basic_auth is not None:
        args += ["--basic-auth", basic_auth]
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=directory
    )
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("proxy.py did not start")
            time.sleep(0.05)
        yield ProxyPy(int(port_file.read_text().split()[0]), log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- boto3 on the same wire -----------------------------------------------------------------------


class Boto3Sleeps:
    """boto3's retry sleeps (``botocore.endpoint`` calls ``time.sleep``), recorded and skipped:
    ``len(sleeps)`` is how many times boto3 retried."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import botocore.endpoint

        self.delays: list[float] = []
        monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=self.delays.append))


def boto3_get_session(
    endpoint_url: str, *, proxies: dict[str, str] | None = None, max_attempts: int = 3
) -> Any:
    """boto3's ``get_session(Id="s-1")["Session"]`` from a fresh session (the environment read
    now), standard retries; the exception it raised, if any, is returned."""
    config = Config(
        # (botocore's "max_attempts" here counts retries only; "total_max_attempts" counts the
        # first try too, as AWS_MAX_ATTEMPTS and this client's max_attempts do.)
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        proxies=proxies,
        connect_timeout=5,
        read_timeout=5,
    )
    try:
        client = boto3.session.Session().client(
            "glue", region_name="us-east-1", endpoint_url=endpoint_url, config=config
        )
        return client.get_session(Id="s-1")["Session"]
    except Exception as exc:
        return exc


async def boto3_in_thread(endpoint_url: str, **kwargs: Any) -> Any:
    """:func:`boto3_get_session` off the loop, so servers in this loop can answer it."""
    return await asyncio.to_thread(boto3_get_session, endpoint_url, **kwargs)


# --- this client, side by side with boto3 -------------------------------------------------------


def client(endpoint_url: str, sleep: InstantSleep, **kwargs: Any) -> GlueSessionClient:
    return GlueSessionClient(
        region="us-east-1",
        endpoint_url=endpoint_url,
        timeouts=Timeouts(connect=5, read=5),
        sleep=sleep,
        **kwargs,
    )


async def ours(endpoint_url: str, sleep: InstantSleep, **kwargs: Any) -> Any:
    """This client's session id for ``s-1``, or the exception it raised."""
    try:
        async with client(endpoint_url, sleep, **kwargs) as glue:
            return (await glue.get_session("s-1")).id
    except Exception as exc:
        return exc


def outcome(result: Any) -> str:
    """``"ok"`` or the exception's class name, for comparing the two clients."""
    return type(result).__name__ if isinstance(result, BaseException) else "ok"
