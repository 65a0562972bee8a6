"""The wire: one POST out, one capped reply back. The only module that knows aiohttp.

A transport is anything with ``send`` and ``aclose`` (the
[``Transport``][aioglue_session.transport.Transport] protocol). The client hands it a signed
request and gets back a [``RawReply``][aioglue_session.transport.RawReply] (status, headers, body
bytes, or ``None`` for a body larger than the cap) or one of botocore's network exceptions. It
does not retry, sign or parse; that keeps it small enough to replace:

- [``AiohttpTransport``][aioglue_session.transport.AiohttpTransport] is the real one: a pooled
  ``aiohttp.ClientSession``, per-attempt connect/read timeouts, the reply cap, an optional
  forward proxy, and aiohttp's exceptions mapped to botocore's through one table
  ([``NETWORK_ERRORS``][aioglue_session.transport.NETWORK_ERRORS]).
- [``MockTransport``][aioglue_session.transport.MockTransport] answers from a function, with no
  socket: pass it as ``GlueSessionClient(transport=MockTransport(handler))`` in your own tests.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NamedTuple, Protocol, runtime_checkable
from urllib.parse import urlsplit

import aiohttp
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
)
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .settings import DEFAULT_MAX_REPLY_BYTES, Proxy, Timeouts

__all__ = [
    "NETWORK_ERRORS",
    "AiohttpTransport",
    "MockTransport",
    "RawReply",
    "Request",
    "Transport",
]


class RawReply(NamedTuple):
    """What came back from one request: ``RawReply(status, headers, body)``."""

    status: int
    """The HTTP status."""
    headers: Mapping[str, str]
    """The reply's headers, case-insensitive (aiohttp's are; a
    [``MockTransport``][aioglue_session.transport.MockTransport] wraps a handler's ``dict``)."""
    body: bytes | None
    """The body, or ``None`` when it was larger than the transport's cap (it was not read
    whole): the call then fails with a ``GlueError`` coded ``ReplyTooLarge``."""


class Request(NamedTuple):
    """What [``MockTransport``][aioglue_session.transport.MockTransport] hands its handler: one
    signed request, as it would go on the wire."""

    url: str
    """The endpoint URL."""
    headers: Mapping[str, str]
    """The signed headers (``X-Amz-Target``, ``Authorization``, ``X-Amz-Date``...)."""
    body: bytes
    """The JSON 1.1 body: ``{"Id": ..., "RequestOrigin": ...}``."""
    timeout: float | None
    """Seconds left of the call's ``Timeouts.total`` (``None``: no total)."""


@runtime_checkable
class Transport(Protocol):
    """What ``GlueSessionClient(transport=...)`` accepts: any object with these two methods."""

    async def send(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float | None
    ) -> RawReply:
        """POST ``body`` with ``headers`` to ``url``; ``timeout`` is the time left of the call's
        total budget. Raise botocore's network exceptions (``EndpointConnectionError``,
        ``ConnectTimeoutError``, ``ReadTimeoutError``, ``ConnectionClosedError``, ``SSLError``,
        ``ProxyConnectionError``) for failures: the retry policy classifies those. An
        ``SSLError(error=ssl.SSLCertVerificationError(...))`` is not retried."""
        ...

    async def aclose(self) -> None:
        """Release every connection. Called once, when the client closes."""
        ...


NETWORK_ERRORS: tuple[tuple[type[BaseException], type[HTTPClientError]], ...] = (  # type: ignore[assignment]
    (aiohttp.ConnectionTimeoutError, ConnectTimeoutError),
    (aiohttp.ServerTimeoutError, ReadTimeoutError),
    # A certificate that does not verify, through a proxy's tunnel too.
    (aiohttp.ClientSSLError, SSLError),
    # The proxy cannot be reached (a ClientConnectorError: before it), or it refused the
    # CONNECT tunnel (407, 502...): botocore's ProxyConnectionError for both, as boto3 raises.
    (aiohttp.ClientProxyConnectionError, ProxyConnectionError),
    (aiohttp.ClientHttpProxyError, ProxyConnectionError),
    (aiohttp.ClientConnectorError, EndpointConnectionError),
    (aiohttp.ClientError, ConnectionClosedError),
    # The total budget ran out (aiohttp's ``ClientTimeout.total``).
    (asyncio.TimeoutError, ReadTimeoutError),
)
"""aiohttp's exception -> botocore's, the first match winning (subclasses before their bases):
how ``AiohttpTransport`` reports a network failure as the exception boto3 users catch."""


def network_error(exc: BaseException, url: str, proxy: Proxy | None = None) -> HTTPClientError:
    """aiohttp's failure as the botocore exception boto3 users catch. A proxy is named by its
    redacted URL (``user:***@host:port``)."""
    # (Only ProxyConnectionError's message uses it. A proxy aiohttp found itself, in a given
    # http_session with trust_env, is not known here.)
    proxy_url = "(the http_session's own proxy)" if proxy is None else proxy.display
    error: BaseException = exc
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        # The ssl module's own error, as in boto3's message; the retry policy reads it too
        # (a certificate that did not verify is not retried).
        error = exc.certificate_error
    for kind, botocore_kind in NETWORK_ERRORS:
        if isinstance(exc, kind):
            return botocore_kind(endpoint_url=url, proxy_url=proxy_url, error=error)
    return ConnectionClosedError(endpoint_url=url, error=exc)  # pragma: no cover - table is total


def _without_request_headers(exc: aiohttp.ClientHttpProxyError) -> aiohttp.ClientHttpProxyError:
    """A proxy's refusal (``407``...) as aiohttp reports it, less the request's headers: they
    hold ``Proxy-Authorization``, and a repr of the error would print them."""
    info = exc.request_info
    return aiohttp.ClientHttpProxyError(
        aiohttp.RequestInfo(info.url, info.method, CIMultiDictProxy(CIMultiDict()), info.real_url),
        exc.history,
        status=exc.status,
        message=exc.message,
        headers=exc.headers,
    )


class ReadWatch:
    """Read timeouts for all the requests of one transport, on one loop timer.

    A request times out when no data came for ``read`` seconds: counted from when it is sent
    (on a new connection, once that connection is open), restarted when the reply's headers
    arrive and while its body keeps arriving; as boto3's ``read_timeout`` and aiohttp's
    ``sock_read``.
    aiohttp's ``sock_read`` arms a loop timer per request and moves it at every chunk received:
    three timers per GetSession over TLS, each costing its way through asyncio's timer heap
    (~2 µs of CPU per lookup in all). Here a request's deadline is a number, and one timer every
    ``tick`` seconds (a tenth of ``read``, between 10 ms and 1 s: a timeout fires at most that
    late) looks at the requests in flight, which the send slots keep to ``max_connections``. A
    request past its deadline has its task cancelled, and ``AiohttpTransport.send`` turns that
    cancellation into botocore's ``ReadTimeoutError`` (as ``asyncio.timeout`` does: a
    cancellation that came from elsewhere at the same time still propagates, on Python 3.11+).
    """

    def __init__(self, read: float) -> None:
        self.read = read
        self.tick = min(1.0, max(0.01, read / 10))
        self._watched: dict[asyncio.Task[Any], _Watched] = {}
        self._timer: asyncio.TimerHandle | None = None
        # Cached at the first request (the session is bound to it): asyncio.current_task()
        # without it costs a getpid() system call per request on Python 3.10/3.11.
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> _Watched | None:
        """Watch the current task's request (``None`` outside a task: nothing to cancel)."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:  # pragma: no cover - asyncio always runs coroutines in tasks
            return None
        watched = _Watched(self, task, loop.time() + self.read)
        self._watched[task] = watched
        if self._timer is None:
            self._timer = loop.call_later(self.tick, self._check)
        return watched

    def connecting(self, started: bool) -> None:
        """The current task's request opens a new connection (``started``), or is done with
        that: its read clock does not run while it connects (the connect timeout applies)."""
        task = asyncio.current_task(self._loop)  # (set: start() came first)
        watched = None if task is None else self._watched.get(task)
        if watched is not None and watched.response is None:
            watched.deadline = (
                float("inf") if started else watched.task.get_loop().time() + self.read
            )

    def _check(self) -> None:
        self._timer = None
        if not self._watched:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        read = self.read
        for watched in list(self._watched.values()):
            response = watched.response
            if response is not None:
                received = response.content.total_bytes
                if received != watched.seen:  # the body is still arriving
                    watched.seen = received
                    watched.deadline = now + read
                    continue
            if now >= watched.deadline and not watched.fired:
                watched.fired = True
                watched.task.cancel()
        self._timer = loop.call_later(self.tick, self._check)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class _Watched:
    """One request under a ``ReadWatch``."""

    __slots__ = ("deadline", "fired", "response", "seen", "task", "watch")

    def __init__(self, watch: ReadWatch, task: asyncio.Task[Any], deadline: float) -> None:
        self.watch = watch
        self.task = task
        #: Loop time past which the request has timed out (none while it opens a connection:
        #: that is the connect timeout's, which aiohttp enforces).
        self.deadline = deadline
        self.response: aiohttp.ClientResponse | None = None
        self.seen = 0
        self.fired = False

    def reading(self, response: aiohttp.ClientResponse) -> None:
        """The reply's headers arrived: its body's read clock starts."""
        self.response = response
        self.seen = response.content.total_bytes
        self.deadline = self.task.get_loop().time() + self.watch.read

    def timed_out(self) -> bool:
        """Whether the watch cancelled this request, and only the watch: the cancellation is
        then taken back (Python 3.11+; 3.10 keeps no count of cancellations)."""
        if not self.fired:
            return False
        if sys.version_info >= (3, 11):
            self.task.uncancel()
            return self.task.cancelling() == 0
        return True  # pragma: no cover - Python 3.10

    def stop(self) -> None:
        self.watch._watched.pop(self.task, None)


class _Connector(aiohttp.TCPConnector):
    """aiohttp's connector, telling a ``ReadWatch`` while a request opens a new connection.

    (``_create_connection`` is aiohttp's, private, and only called for a new connection, so a
    request on a pooled one pays nothing. Were it renamed, connecting would count against the
    read timeout, never the other way round: tests/test_tls.py would fail.)
    """

    def __init__(self, watch: ReadWatch | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._read_watch = watch

    async def _create_connection(self, *args: Any, **kwargs: Any) -> Any:
        watch = self._read_watch
        if watch is None:
            return await super()._create_connection(*args, **kwargs)
        watch.connecting(True)
        try:
            return await super()._create_connection(*args, **kwargs)
        finally:
            watch.connecting(False)


class AiohttpTransport:
    """The real transport: POSTs on a pooled ``aiohttp.ClientSession``.

    Args:
        max_connections: the connection pool's size.
        timeouts: ``connect`` and ``read`` apply to each request (``total`` is the client's: it
            arrives per request as ``timeout``).
        max_reply_bytes: replies larger than this, *decoded*, are cut off while streaming and
            come back with ``body=None``; a gzip body that inflates past it is never read whole.
        ssl: ``True`` for aiohttp's default trust store, or an ``ssl.SSLContext`` (the client
            passes one trusting what boto3 trusts, see ``settings.tls_context``).
        session: an existing ``aiohttp.ClientSession`` to send on; it is not closed by
            ``aclose``.
        proxy: a ``settings.Proxy`` every request goes through
            (``Proxy.from_url("http://user:password@host:3128")``): ``https`` URLs in a
            ``CONNECT`` tunnel, TLS verified end to end against the URL's host; ``http`` URLs as
            absolute-form requests. Its credentials go in ``Proxy-Authorization`` only.
    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        timeouts: Timeouts | None = None,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        ssl: Any = True,
        session: aiohttp.ClientSession | None = None,
        proxy: Proxy | None = None,
    ) -> None:
        timeouts = timeouts or Timeouts()
        self._cap = max_reply_bytes
        self._owned = session is None
        # The read timeout: this transport's own watch on its own connector (see ReadWatch),
        # aiohttp's sock_read on a session it was given.
        self._watch = ReadWatch(timeouts.read) if session is None and timeouts.read else None
        self._connect = timeouts.connect
        self._read = None if self._watch is not None else timeouts.read
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._connect, sock_read=self._read
        )
        if session is None:
            connector = _Connector(self._watch, limit=max_connections, limit_per_host=0, ssl=ssl)
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                auto_decompress=True,
                # As boto3 (urllib3 keeps no cookies): a Set-Cookie is never sent back.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        self._session = session
        self._proxy = proxy
        # The proxy's request arguments, prepared once (see _post_via_proxy).
        self._via: dict[str, Any] = {}
        if proxy is not None:
            self._via = {"proxy": URL(proxy.url), "proxy_headers": dict(proxy.headers) or None}

    def __repr__(self) -> str:
        proxy = "" if self._proxy is None else f", proxy={self._proxy.display!r}"
        return f"AiohttpTransport(closed={self.closed}{proxy})"

    @property
    def closed(self) -> bool:
        """Whether the ``aiohttp.ClientSession`` is closed."""
        return self._session.closed

    @property
    def connections_in_use(self) -> int:
        """Connections taken from the pool and not yet given back (0 when nothing leaked)."""
        connector = self._session.connector
        # aiohttp has no public count of acquired connections; its own bookkeeping is read here.
        return 0 if connector is None else len(getattr(connector, "_acquired", ()))

    @property
    def idle_connections(self) -> int:
        """Open connections waiting in the pool for the next request."""
        conns = getattr(self._session.connector, "_conns", {})
        return sum(len(entries) for entries in conns.values())

    async def send(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float | None
    ) -> RawReply:
        """POST, read the reply up to the cap, and map aiohttp's failures to botocore's."""
        request_timeout = self._timeout
        if timeout is not None:
            request_timeout = aiohttp.ClientTimeout(
                total=timeout, sock_connect=self._connect, sock_read=self._read
            )
        watch = self._watch
        watched = None if watch is None else watch.start()
        try:
            if self._proxy is None:
                request = self._session.post(
                    url, data=body, headers=headers, timeout=request_timeout, allow_redirects=False
                )
            else:
                request = self._post_via_proxy(url, headers, body, request_timeout)
            async with request as response:
                if watched is not None:
                    watched.reading(response)
                length = response.content_length
                if (
                    length is not None
                    and length <= self._cap
                    and "Content-Encoding" not in response.headers
                ):
                    # The common case: the declared length is the body, within the cap.
                    data: bytes | None = await response.read()
                else:
                    data = await self._read_capped(response)
                return RawReply(response.status, response.headers, data)
        except aiohttp.ClientHttpProxyError as exc:
            # Raised below, outside this block, so that aiohttp's error (its request's headers
            # hold Proxy-Authorization) is not kept as the new error's context either.
            refused = _without_request_headers(exc)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise network_error(exc, url, self._proxy) from exc
        except asyncio.CancelledError:
            if watched is not None and watched.timed_out():
                raise ReadTimeoutError(
                    endpoint_url=url, error=f"no data from the endpoint for {watched.watch.read} s"
                ) from None
            raise
        finally:
            if watched is not None:
                watched.stop()
        raise network_error(refused, url, self._proxy) from refused

    def _post_via_proxy(
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout: aiohttp.ClientTimeout,
    ) -> Any:
        """The POST through the proxy (kept off the direct path, which passes nothing more).

        https: aiohttp opens the ``CONNECT`` tunnel, with ``proxy_headers`` on the CONNECT only.
        http: as urllib3 sends boto3's, the request line names the whole URL (aiohttp writes it
        as given, so an endpoint without a path gets ``/``: ``POST http://host:port/``), and the
        proxy's credentials go on the request itself.
        """
        assert self._proxy is not None
        if url.startswith("http:"):
            if not urlsplit(url).path:
                url += "/"
            if self._proxy.headers:
                headers = {**headers, **self._proxy.headers}
        return self._session.post(
            url,
            data=body,
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
            **self._via,
        )

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes | None:
        """The body of a reply that is compressed, chunked or declared over the cap, read in
        chunks and cut off (``None``) as soon as the decoded size passes the cap."""
        cap = self._cap
        length = response.content_length
        if length is not None and length > cap:
            response.close()
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > cap:
                response.close()
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        """Close the ``aiohttp.ClientSession``, unless it was given as ``session``."""
        if self._watch is not None:
            self._watch.close()
        if self._owned:
            await self._session.close()


Handler = Callable[[Request], "RawReply | Awaitable[RawReply]"]


class MockTransport:
    """A transport that answers from ``handler(request)`` without a socket (httpx's idea).

    The handler gets a [``Request``][aioglue_session.transport.Request] and returns a
    [``RawReply``][aioglue_session.transport.RawReply] (or an awaitable of one, so an
    ``async def`` works too); to simulate a network failure it raises the botocore exception,
    e.g. ``EndpointConnectionError(endpoint_url=request.url)``. Requests are still validated,
    signed, retried and parsed as on the wire; pass ``sleep=`` to the client as well to make
    the backoffs instant.

    ```python
    def handler(request: Request) -> RawReply:
        return RawReply(200, {"x-amzn-RequestId": "r-1"}, b'{"Session": {"Id": "s-1"}}')

    async with GlueSessionClient(
        region="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="test",
        transport=MockTransport(handler),
    ) as glue:
        session = await glue.get_session("s-1")
    ```
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[Request] = []
        """Every request sent through this transport, in order."""
        self.closed = False
        """``True`` once the client that used it has closed."""

    async def send(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float | None
    ) -> RawReply:
        """Record the request in ``requests`` and answer it with the handler."""
        request = Request(url, dict(headers), body, timeout)
        self.requests.append(request)
        reply = self._handler(request)
        if inspect.isawaitable(reply):
            reply = await reply
        assert isinstance(reply, RawReply), "a MockTransport handler must return a RawReply"
        return RawReply(reply.status, CIMultiDictProxy(CIMultiDict(reply.headers)), reply.body)

    async def aclose(self) -> None:
        """Mark the transport ``closed``."""
        self.closed = True
