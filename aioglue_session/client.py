"""``GlueSessionClient``: the asyncio front door.

The client wires the pieces together; none of them knows the others. A call is
``validate -> encode -> Retrier.call(attempt)``; an attempt is one line of thought:
``send slot -> credentials -> sign -> transport.send -> parse_reply``. Everything that may block
(config files, the credential chain, a CA bundle) runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import botocore
from botocore.exceptions import BotoCoreError, ReadTimeoutError

from . import errors
from ._otel import PendingTelemetry, telemetry_setup
from ._slots import Slots
from ._version import __version__
from .bulk import iter_session_results
from .errors import RETRYABLE_KINDS, ClientBusyError, ClientClosedError, GlueError
from .models import Session, SessionResult, SessionStatus
from .protocol import (
    build_error,
    encode_request,
    parse_reply,
    validate_request_origin,
    validate_session_id,
)
from .ratelimit import RateLimit, check_rate
from .settings import (
    DEFAULT_MAX_REPLY_BYTES,
    ClientConfig,
    RetryConfig,
    RetryMode,
    Settings,
    Timeouts,
)
from .sharing import SharedReads, check_cache_size, check_max_age
from .transport import Transport
from .waiter import wait_for_session

if TYPE_CHECKING:
    import aiohttp
    import botocore.session

    from .autorate import AutoRate
    from .credentials import CredentialCache
    from .retries import Retrier
    from .signing import RequestSigner
    from .telemetry import Call, Telemetry
    from .watch import SessionWatch

__all__ = ["GlueSessionClient"]

logger = logging.getLogger(__name__)

USER_AGENT = (
    f"aioglue-session/{__version__} botocore/{botocore.__version__} "
    f"Python/{sys.version_info[0]}.{sys.version_info[1]}"
)
_EXPIRED_TOKEN_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpiredException"}
)
_NEW, _OPEN, _CLOSED = "new", "open", "closed"


class GlueSessionClient:
    """An asyncio client for AWS Glue ``GetSession``.

    Use it as ``async with GlueSessionClient(region="eu-west-1") as glue: ...``. Every argument
    is keyword-only and optional; what is left out is resolved as boto3 resolves it, through
    botocore (the environment, the shared config and credentials files, the profile).

    Args:
        region: the AWS region (else ``AWS_REGION``, ``AWS_DEFAULT_REGION``, the profile's). A
            FIPS pseudo-region (``fips-us-east-1``) means that region with FIPS endpoints, as in
            boto3.
        profile: the shared-config profile to read settings and credentials from.
        aws_access_key_id: explicit credentials, with ``aws_secret_access_key`` and optionally
            ``aws_session_token``; otherwise botocore's credential chain is used.
        aws_secret_access_key: see ``aws_access_key_id``.
        aws_session_token: see ``aws_access_key_id``.
        endpoint_url: an ``http://`` or ``https://`` URL (else ``AWS_ENDPOINT_URL_GLUE``,
            ``AWS_ENDPOINT_URL``, the profile's, then Glue's endpoint rules for the region, with
            the FIPS and dual-stack settings).
        retry: a [``RetryConfig``][aioglue_session.RetryConfig] (botocore's standard or
            adaptive retries); else ``AWS_RETRY_MODE`` / ``AWS_MAX_ATTEMPTS`` or the profile's
            ``retry_mode`` / ``max_attempts``, else standard with 3 attempts.
        timeouts: a [``Timeouts``][aioglue_session.Timeouts] (connect/read per attempt, total
            per call).
        max_connections: requests on the wire at once across all calls; calls beyond it queue
            before their request is built or signed.
        http_session: an ``aiohttp.ClientSession`` to send on; the client does not close it.
        botocore_session: a ``botocore.session.Session`` to take profile, config and
            credentials from.
        max_reply_bytes: replies larger than this (decoded) are refused unread, as a
            ``GlueError`` with code ``ReplyTooLarge``.
        proxies: as boto3's ``Config(proxies=...)``: ``{"https": "http://[user:pass@]host:port"}``
            (keys ``"http"``, ``"https"`` or ``"scheme://host"``, the latter preferred). When
            given, the environment is not read; when not, ``HTTPS_PROXY`` / ``HTTP_PROXY`` /
            ``NO_PROXY`` (either case) apply as boto3 applies them. ``https`` endpoints go
            through a ``CONNECT`` tunnel, TLS verified end to end. The password is never logged
            or shown; an unreachable or refusing proxy is botocore's ``ProxyConnectionError``.
        tracer_provider: an OpenTelemetry ``TracerProvider`` (else the global one, when
            ``opentelemetry-api`` is installed).
        meter_provider: an OpenTelemetry ``MeterProvider`` (likewise).
        max_rate: requests per second for the whole client, every attempt included (retries,
            waiter and watch polls), as a token bucket of ``max(1, max_rate)`` tokens: over any
            W seconds at most ``max_rate * W + max(1, max_rate)`` requests start. ``None``: no
            cap. In adaptive retry mode the lower of this and the adaptive rate applies.
            ``"auto"``: the rate is learned from the endpoint's throttling replies (the codes
            botocore's retry classifier treats as throttling) and kept just under the highest
            rate it accepts, probing upward while nothing is throttled; ``send_rate`` reports
            it. See the guide "Staying under a quota".
        max_waiting: calls that may wait at once for a send slot (``max_connections``) or a
            rate token; a call beyond it fails at once with
            [``ClientBusyError``][aioglue_session.errors.ClientBusyError] and sends nothing
            (a retry of a call already admitted waits, but counts). ``None``: no bound.
        cache_size: how many sessions ``max_age`` calls remember (least recently used dropped
            first); 0 remembers none (calls still share requests in flight).
        transport: anything with the [``Transport``][aioglue_session.transport.Transport]
            protocol, e.g. a [``MockTransport``][aioglue_session.transport.MockTransport] in your
            tests. It replaces the aiohttp transport (``max_connections`` still bounds requests
            in flight); not together with ``http_session``.
        clock: for tests: seconds, driving signing dates (read as epoch seconds), deadlines,
            backoff and the adaptive limiter. Defaults: ``time.time`` for signing,
            ``time.monotonic`` for the rest.
        sleep: for tests: the coroutine function that backoff and waiter sleeps go through
            (``asyncio.sleep``).
    """

    exceptions = errors
    """The [``errors``][aioglue_session.errors] module: ``glue.exceptions.EntityNotFoundException``
    and the rest, as on a boto3 client."""

    def __init__(
        self,
        *,
        region: str | None = None,
        profile: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        endpoint_url: str | None = None,
        retry: RetryConfig | None = None,
        timeouts: Timeouts | None = None,
        max_connections: int = 100,
        http_session: aiohttp.ClientSession | None = None,
        botocore_session: botocore.session.Session | None = None,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        proxies: Mapping[str, str] | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        max_rate: float | Literal["auto"] | None = None,
        max_waiting: int | None = None,
        cache_size: int = 1024,
        transport: Transport | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if transport is not None and http_session is not None:
            raise ValueError("pass transport or http_session, not both")
        self._config = ClientConfig(
            region=region,
            profile=profile,
            explicit_keys=ClientConfig.keys(
                aws_access_key_id, aws_secret_access_key, aws_session_token
            ),
            endpoint_url=endpoint_url,
            retry=retry,
            timeouts=timeouts,
            max_connections=max_connections,
            max_reply_bytes=max_reply_bytes,
            proxies=proxies,
        )
        if max_rate == "auto":
            pass  # learned from the endpoint's throttling replies (see autorate)
        elif max_rate is not None:
            if isinstance(max_rate, str):
                raise TypeError(
                    f'max_rate must be a number of requests per second or "auto", not {max_rate!r}'
                )
            check_rate(max_rate)
        if max_waiting is not None and (
            isinstance(max_waiting, bool) or not isinstance(max_waiting, int) or max_waiting < 0
        ):
            raise ValueError(f"max_waiting must be an int >= 0 or None, not {max_waiting!r}")
        self._max_rate = max_rate
        self._max_waiting = max_waiting
        #: Calls waiting now for a send slot or a rate token (``max_waiting`` bounds it).
        self._waiting = 0
        self._rate: RateLimit | None = None
        #: With max_rate="auto", the same bucket as _rate, told of every reply.
        self._auto_rate: AutoRate | None = None
        self._reads = SharedReads(check_cache_size(cache_size), clock or time.monotonic)
        self._providers = (tracer_provider, meter_provider)
        #: Set by open() when opentelemetry-api is installed (a PendingTelemetry until the
        #: application imports OpenTelemetry); None keeps calls free of it.
        self._telemetry: Telemetry | PendingTelemetry | None = None
        self._user_http = http_session
        self._botocore_session = botocore_session
        self._transport = transport
        self._clock = clock
        self._sleep = sleep
        self._state = _NEW
        self._open_lock: asyncio.Lock | None = None
        self._calls: set[asyncio.Task[Any]] = set()
        # The loop the client was opened in. ``asyncio.current_task(loop)``, not ``()``: on
        # Python 3.10/3.11 finding the running loop costs a getpid() system call each time.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0
        self._slots = Slots(max_connections)
        self._settings: Settings | None = None
        # Set by open():
        self._credentials: CredentialCache
        self._retrier: Retrier
        self._signer: RequestSigner

    # --- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> GlueSessionClient:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Resolve the settings (off the loop) and create the connection pool.

        ``async with`` calls this. Raises botocore's ``NoRegionError`` without a region,
        ``ProfileNotFound`` for an unknown profile, and ``ClientClosedError`` once closed.
        """
        if self._state == _CLOSED:
            raise ClientClosedError("this GlueSessionClient is closed; create a new one")
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._state == _NEW:
                await self._open()

    def _start_up(self) -> tuple[Settings, CredentialCache, type[Telemetry] | bool]:
        """Everything at start-up that may block (config files, a CA bundle, imports), in one
        worker-thread hop. The modules that need most of botocore are imported here, so the loop
        never pays for them (``_preload`` may have loaded botocore's part with the package).

        With explicit keys (and no ``botocore_session``), neither ``botocore.session`` nor
        ``botocore.credentials`` is imported: the settings are read through a ``ConfigSession``.
        The last item is the ``Telemetry`` class, or whether to set telemetry up later
        (``True``: OpenTelemetry is installed but not imported yet, see ``_otel``).
        """
        from . import retries, signing  # noqa: F401  (imported in this thread for _open)
        from .credentials import (
            CHAIN_DESCRIPTION,
            CredentialCache,
            ExplicitCredentials,
            chain_source,
        )

        config = self._config
        session, settings = config.resolve(self._botocore_session)
        if config.explicit_keys is not None:
            explicit = ExplicitCredentials(*config.explicit_keys)
            credentials = CredentialCache(explicit, where="explicit arguments")
        else:
            assert session is not None
            where = CHAIN_DESCRIPTION.format(profile=session.profile or "default")
            credentials = CredentialCache(chain_source(session), where=where)
        return settings, credentials, telemetry_setup(self._providers)

    async def _open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        settings, self._credentials, telemetry = await asyncio.to_thread(self._start_up)
        from .retries import Retrier
        from .signing import RequestSigner

        config = self._config
        clock = self._clock
        self._retrier = Retrier(
            mode=settings.retry_mode,
            max_attempts=settings.max_attempts,
            clock=clock or time.monotonic,
            sleep=self._sleep,
        )
        self._signer = RequestSigner(
            settings.region, settings.endpoint_url, USER_AGENT, clock=clock or time.time
        )
        if self._transport is None:
            from .transport import AiohttpTransport

            self._transport = AiohttpTransport(
                max_connections=config.max_connections,
                timeouts=config.timeouts,
                max_reply_bytes=config.max_reply_bytes,
                ssl=settings.ssl_context or True,
                session=self._user_http,
                proxy=settings.proxy,
            )
        if self._max_rate == "auto":
            from .autorate import AutoRate

            self._rate = self._auto_rate = AutoRate(clock=clock or time.monotonic)
        elif self._max_rate is not None:
            self._rate = RateLimit(self._max_rate, clock=clock or time.monotonic)
        self._settings = settings
        if telemetry is True:
            self._telemetry = PendingTelemetry(self._activate_telemetry)
        elif telemetry is not False:
            self._activate_telemetry(telemetry)
        self._state = _OPEN

    def _activate_telemetry(self, telemetry: type[Telemetry] | None) -> Telemetry | None:
        """Set the client's telemetry up (``None``: OpenTelemetry could not be imported)."""
        self._telemetry = None
        if telemetry is not None:
            settings = self._opened()
            self._telemetry = telemetry(
                *self._providers,
                region=settings.region,
                endpoint_url=settings.endpoint_url,
                limiter=self._retrier.limiter,
                auto_rate=self._auto_rate,
            )
        return self._telemetry

    async def close(self) -> None:
        """Close the client: in-flight calls fail with ``ClientClosedError``, every connection
        is released. Idempotent; harmless on a client that was never opened."""
        if self._state == _CLOSED:
            return
        if self._state == _OPEN and asyncio.get_running_loop() is not self._loop:
            assert self._loop is not None
            if not self._loop.is_closed():
                raise RuntimeError(self._other_loop_message("closed"))
            # Its loop is gone, and with it every call and connection it had: nothing to wait
            # for or release from here.
            self._state = _CLOSED
            self._reads.clear()
            return
        was_open, self._state = self._state == _OPEN, _CLOSED
        self._reads.clear()
        current = asyncio.current_task()
        pending = [t for t in self._calls if t is not current and not t.done()]
        for task in pending:
            task.cancel(msg="aioglue_session: client closed")
        if pending:
            await asyncio.wait(pending, timeout=5)
        if self._telemetry is not None:
            self._telemetry.close()
        if was_open:
            await self._credentials.aclose()
            assert self._transport is not None
            await self._transport.aclose()

    def __repr__(self) -> str:
        from .credentials import redact

        keys = self._config.explicit_keys
        key = keys[0] if keys else None
        settings = self._settings
        return (
            f"GlueSessionClient(region={settings.region if settings else None!r}, "
            f"endpoint_url={settings.endpoint_url if settings else None!r}, "
            f"state={self._state!r}, access_key={redact(key) if key else None!r})"
        )

    # --- read-only state -------------------------------------------------------------------------

    @property
    def region(self) -> str:
        """The resolved region: a FIPS pseudo-region (``fips-us-east-1``) gives the real one
        (``us-east-1``), as boto3's ``client.meta.region_name`` does."""
        return self._opened().region

    @property
    def endpoint_url(self) -> str:
        """The resolved endpoint URL."""
        return self._opened().endpoint_url

    @property
    def retry_mode(self) -> RetryMode:
        """The resolved retry mode, ``"standard"`` or ``"adaptive"``."""
        return self._opened().retry_mode

    @property
    def max_attempts(self) -> int:
        """The resolved attempts per call, counting the first try."""
        return self._opened().max_attempts

    @property
    def retry_quota(self) -> int:
        """Retry capacity left in this client's shared retry quota (botocore: 500 at start)."""
        self._opened()
        return int(self._retrier.quota.available_capacity)

    @property
    def send_rate(self) -> float | None:
        """With ``max_rate="auto"``: the rate learned from the endpoint's replies (requests/s).
        Otherwise the adaptive limiter's allowed send rate once throttling has switched it on;
        ``None`` before that and in standard mode."""
        self._opened()
        if self._auto_rate is not None:
            return self._auto_rate.rate
        limiter = self._retrier.limiter
        return limiter.send_rate if limiter is not None and limiter.enabled else None

    @property
    def clock_offset(self) -> float:
        """Seconds the signing clock is corrected by, learned from a reply that said the
        request's time was off (0.0 until then)."""
        self._opened()
        return self._signer.offset

    @property
    def calls_in_flight(self) -> int:
        """``get_session`` calls running now (each bulk lookup and waiter poll is one)."""
        return sum(not task.done() for task in self._calls)

    @property
    def transport(self) -> Transport:
        """The transport requests go through (``AiohttpTransport`` unless one was given)."""
        self._opened()
        assert self._transport is not None
        return self._transport

    def _opened(self) -> Settings:
        """The settings, once the client has been opened (it may be closed since)."""
        if self._settings is None:
            self._check_open()
        assert self._settings is not None
        return self._settings

    def _check_loop_if_running(self) -> None:
        """``_check_loop`` for the plain methods that return an iterator: checked at once when
        a loop runs here (without one, the first lookup checks)."""
        if asyncio._get_running_loop() is not None:
            self._check_loop()

    def _check_loop(self) -> None:
        """Raise ``RuntimeError`` unless the running loop is the one the client was opened in."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not self._loop:
            raise RuntimeError(self._other_loop_message("called"))

    def _other_loop_message(self, verb: str) -> str:
        return (
            f"this GlueSessionClient was opened in another event loop and cannot be {verb} "
            "from this one: a client (its connections, its waiting calls) belongs to the loop "
            "it was opened in. Use one client per event loop: open a new one in this loop "
            "(or thread), e.g. per test or in the thread's own loop"
        )

    def _check_open(self) -> None:
        if self._state == _CLOSED:
            raise ClientClosedError("this GlueSessionClient is closed")
        if self._state == _NEW:
            raise ClientClosedError(
                "this GlueSessionClient is not open: use 'async with GlueSessionClient(...)' "
                "or 'await client.open()'"
            )

    # --- GetSession ------------------------------------------------------------------------------

    async def get_session(
        self,
        session_id: str,
        *,
        request_origin: str | None = None,
        max_age: float | None = None,
    ) -> Session:
        """Look up one session: one ``AWSGlue.GetSession`` call, retried per the client's
        retry settings (as boto3's ``get_session(Id=..., RequestOrigin=...)``).

        Args:
            session_id: the session's id (1-255 characters of Glue's pattern).
            request_origin: Glue's ``RequestOrigin`` (1-128 of ``[.\\-_A-Za-z0-9]``).
            max_age: seconds (>= 0) for services that look the same session up many times a
                second. ``None`` (default): a request of its own, always, as boto3. Otherwise
                a session this client received for the same ``(session_id, request_origin)``
                from a request sent at most ``max_age`` seconds ago is returned with no
                request; else a request for it already in flight (started by a ``max_age``
                call) is waited for and shared; else the call makes the request and its
                session is remembered (``cache_size`` sessions, least recently used dropped).
                Errors are never remembered: a shared request's error is raised in every call
                that waited for it. Cancelling one waiting call never cancels the request for
                the others. ``max_age=0`` shares requests in flight only.

        Raises:
            ParamValidationError: a bad argument, before anything is sent.
            GlueError: an error reply (``EntityNotFoundException`` etc.), after retries.
            botocore.exceptions.EndpointConnectionError: and the other network errors, after
                retries.
            ClientClosedError: the client is not open, or was closed during the call.
            ClientBusyError: ``max_waiting`` calls already wait; nothing was sent.
            RuntimeError: called from another event loop than the client was opened in.
            TypeError, ValueError: ``max_age`` is not a number of seconds >= 0.
        """
        if max_age is not None:
            return await self._get_shared(session_id, request_origin, max_age)
        sid = validate_session_id(session_id)
        origin = validate_request_origin(request_origin)
        self._check_open()
        task = asyncio.current_task(self._loop)
        if task is None or _get_ident() != self._thread:
            self._check_loop()
        body = encode_request(sid, origin)
        if task is not None:
            self._calls.add(task)
        call = None if self._telemetry is None else self._telemetry.start()
        outcome: BaseException | None = None
        retrier = self._retrier
        try:
            deadline = retrier.deadline(self._config.timeouts.total)
            failure = None
            if retrier.limiter is None:
                # The fast path: the first attempt is made here, and the retry machinery is
                # only entered once something failed (adaptive mode paces every attempt).
                try:
                    session = await self._attempt(body, call, 1, deadline)
                except RETRYABLE_KINDS as exc:
                    failure = exc
                else:
                    retrier.first_try_succeeded()
                    return session
            return await retrier.call(
                functools.partial(self._attempt, body, call),
                deadline=deadline,
                recover=self._recover,
                on_retry=None if call is None else call.retried,
                failure=failure,
                on_wait=None if self._max_waiting is None else self._enter_wait,
            )
        except asyncio.CancelledError as exc:
            outcome = self._closed_during(task) or exc
            if outcome is not exc:
                raise outcome from None
            raise
        except BaseException as exc:
            outcome = exc
            raise
        finally:
            if task is not None:
                self._calls.discard(task)
            if call is not None:
                call.end(outcome)

    def _closed_during(self, task: asyncio.Task[Any] | None) -> ClientClosedError | None:
        """For a call that was cancelled: ``ClientClosedError`` when the cancel was ``close()``'s
        (taken back from the task, as the call ends in that error instead), else ``None``."""
        if self._state == _CLOSED and task is not None:
            _uncancel(task)
            return ClientClosedError("the client was closed while this call ran")
        return None

    async def _get_shared(
        self, session_id: str, request_origin: str | None, max_age: float
    ) -> Session:
        """``get_session`` with ``max_age``: remembered, shared, or a request of its own."""
        sid = validate_session_id(session_id)
        origin = validate_request_origin(request_origin)
        age = check_max_age(max_age)
        self._check_open()
        self._check_loop()
        key = (sid, origin)
        reads = self._reads
        # max_age=0 shares requests in flight only: nothing remembered is young enough.
        session = reads.remembered(key, age) if age > 0.0 else None
        if session is not None:
            telemetry = self._telemetry
            if telemetry is not None:
                call = telemetry.start()
                if call is not None:
                    call.served("hit")
                    call.end(None)
            return session
        flight = reads.in_flight(key)
        call = None
        if flight is None:
            assert self._loop is not None
            request = functools.partial(self.get_session, sid, request_origin=origin)
            flight = reads.start(key, request, self._loop)
        elif self._telemetry is not None:
            call = self._telemetry.start()
            if call is not None:
                call.served("shared")
        flight.waiters += 1
        task = asyncio.current_task(self._loop)
        if task is not None:
            self._calls.add(task)
        outcome: BaseException | None = None
        try:
            return await asyncio.shield(flight.task)
        except asyncio.CancelledError as exc:
            reads.leave(flight)
            outcome = self._closed_during(task) or exc
            if outcome is not exc:
                raise outcome from None
            raise
        except BaseException as exc:
            outcome = exc
            raise
        finally:
            if task is not None:
                self._calls.discard(task)
            if call is not None:
                call.end(outcome)

    def get_sessions(
        self,
        ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int = 16,
        request_origin: str | None = None,
        max_age: float | None = None,
    ) -> AsyncIterator[SessionResult]:
        """Look up many sessions: one [``SessionResult``][aioglue_session.SessionResult] per
        distinct id, in completion order, at most ``concurrency`` in flight.

        Args:
            ids: any iterable or async iterable of ids, consumed lazily (at most
                ``2 * concurrency`` taken ahead of what you have consumed).
            concurrency: lookups in flight at once.
            request_origin: Glue's ``RequestOrigin`` for every lookup.
            max_age: passed to each lookup, as in
                [``get_session``][aioglue_session.GlueSessionClient.get_session].

        One id's failure (an error reply, a network failure after retries, an invalid id) is
        that id's result and never stops the others. A failure of the client rather than of an
        id (no credentials, no region, the client closed) is raised out of the iterator once,
        after the other lookups are cancelled. Leaving the ``async for`` early cancels what is
        in flight.

        Raises:
            TypeError: ``ids`` is a bare ``str`` (one id, not many) or not iterable; raised
                here, before any lookup.
            ValueError: ``concurrency`` is not a positive int.
            ParamValidationError: a bad ``request_origin``.
            ClientClosedError: the client is not open.
            RuntimeError: called from another event loop than the client was opened in.
        """
        self._check_open()
        self._check_loop_if_running()
        validate_request_origin(request_origin)
        if max_age is not None:
            check_max_age(max_age)

        fetch: Callable[[str], Awaitable[Session]] = self.get_session
        if request_origin is not None or max_age is not None:
            fetch = functools.partial(
                self.get_session, request_origin=request_origin, max_age=max_age
            )
        return iter_session_results(fetch, ids, concurrency=concurrency)

    async def wait_for_session(
        self,
        session_id: str,
        *,
        until: Iterable[SessionStatus | str] = (SessionStatus.READY,),
        timeout: float = 600.0,
        poll_interval: float = 5.0,
    ) -> Session:
        """Poll the session until its status is in ``until``.

        Args:
            session_id: the session to watch.
            until: the statuses to wait for ([``SessionStatus``][aioglue_session.SessionStatus]
                members or plain strings).
            timeout: seconds before giving up.
            poll_interval: seconds between polls (with ±10% jitter).

        Each poll is a ``get_session`` call, retried as any other; its errors propagate (a
        session that does not exist raises ``EntityNotFoundException`` at once).

        Raises:
            WaiterError: a terminal status (FAILED, TIMEOUT, STOPPED) not in ``until``, or the
                timeout; ``.last_session`` holds the last session seen, ``.reason`` says which.
            ParamValidationError: a bad ``session_id``, before anything is sent.
        """
        validate_session_id(session_id)
        self._check_open()
        self._check_loop()
        wanted = tuple(until)

        def run(fetch: Callable[[str], Awaitable[Session]]) -> Awaitable[Session]:
            return wait_for_session(
                fetch,
                session_id,
                until=wanted,
                timeout=timeout,
                poll_interval=poll_interval,
                clock=self._clock or time.monotonic,
                sleep=self._sleep,
            )

        if self._telemetry is None:
            return await run(self.get_session)
        return await self._telemetry.wait(run, self.get_session, until=wanted, timeout=timeout)

    def watch_sessions(
        self,
        ids: Iterable[str] | AsyncIterable[str],
        *,
        interval: float = 5.0,
        until: Iterable[SessionStatus | str] = (
            SessionStatus.FAILED,
            SessionStatus.TIMEOUT,
            SessionStatus.STOPPED,
        ),
        max_rate: float | None = None,
        concurrency: int = 16,
        changes: Literal["status", "any"] = "status",
        request_origin: str | None = None,
    ) -> SessionWatch:
        """Watch many sessions: one stream of [``SessionChange``][aioglue_session.SessionChange]s,
        one polling budget spent where changes happen.

        ```python
        async with glue.watch_sessions(["a", "b"], interval=2.0, max_rate=20) as watch:
            async for change in watch:
                print(change.id, change.previous, "->", change.status, change.final)
        ```

        Args:
            ids: any iterable or async iterable of ids; an async one is read as it produces
                (an endless one keeps the watch open). More with ``watch.add(...)``.
            interval: seconds between two polls of one id (±10% jitter).
            until: statuses that end an id's watch (its change has ``final=True``); ``()``
                watches until removed.
            max_rate: polls per second for this watch (a token bucket: at most
                ``max_rate * W + max(1, max_rate)`` in any W seconds); ``None``: no cap.
            concurrency: polls in flight at most.
            changes: ``"status"`` (a change when the status differs from the last one
                yielded) or ``"any"`` (when any field differs).
            request_origin: Glue's ``RequestOrigin`` for every poll.

        The first successful poll of an id gives its change with ``previous=None``. A session
        that is gone or refused for good (``EntityNotFoundException``,
        ``AccessDeniedException``, ``InvalidInputException``, an invalid id) gives a change with
        that ``error`` and ``final=True``. Other failures of a poll are not changes: the id is
        polled again after ``interval`` x 1, 2, 4, 8 (capped at 8). A failure of the client
        (no credentials, the client closed) is raised out of the iterator once. When the budget
        cannot poll every id every ``interval``, ids never polled go first, then transitional
        statuses (PROVISIONING, STOPPING, unknown), then the rest, and no id goes longer than
        ``2 * len(watch.watching) / max_rate + interval`` between two polls. A slow consumer
        never makes the watch poll faster: a newer change merges into the pending one. Each
        poll is one ``get_session`` call. See the guide "Watching many sessions".

        Raises:
            TypeError: ``ids`` (or ``until``) is a bare ``str``, or not iterable.
            ValueError: ``interval``, ``max_rate`` or ``concurrency`` is not positive, or
                ``changes`` is neither ``"status"`` nor ``"any"``.
            ParamValidationError: a bad ``request_origin``.
            ClientClosedError: the client is not open.
        """
        from ._otel import current_telemetry
        from .watch import SessionWatch

        self._check_open()
        validate_request_origin(request_origin)
        fetch: Callable[[str], Awaitable[Session]] = self.get_session
        if request_origin is not None:
            fetch = functools.partial(self.get_session, request_origin=request_origin)
        return SessionWatch(
            fetch,
            ids,
            interval=interval,
            until=until,
            max_rate=max_rate,
            concurrency=concurrency,
            changes=changes,
            clock=self._clock or time.monotonic,
            sleep=self._sleep,
            telemetry=lambda: current_telemetry(self._telemetry),
        )

    # --- one attempt -----------------------------------------------------------------------------

    async def _attempt(
        self, body: bytes, call: Call | None, attempt: int, deadline: float | None
    ) -> Session:
        """Send slot -> credentials -> sign -> send -> parse (``call``: the call's telemetry).

        The request waits for one of the ``max_connections`` send slots before anything is built
        or signed, so a queued call holds a few hundred bytes rather than a prepared request,
        and every request is signed just before it goes out.
        """
        slots, clock, url = self._slots, self._retrier.clock, self._signer.url
        if not slots.try_take():
            await self._wait_for_slot(attempt, deadline)
        try:
            rate = self._rate
            if rate is not None and not rate.try_take():
                await self._wait_for_token(rate, attempt, deadline)
            if self._state != _OPEN:
                raise ClientClosedError("this GlueSessionClient is closed")
            cache = self._credentials
            credentials = cache.current() or await cache.get()
            headers = self._signer.headers(credentials, body)
            remaining = None
            if deadline is not None:
                remaining = deadline - clock()
                if remaining <= 0:
                    raise ReadTimeoutError(endpoint_url=url, error="total timeout reached")
            assert self._transport is not None
            try:
                status, reply_headers, data = await self._transport.send(
                    url, headers, body, remaining
                )
            except BotoCoreError as exc:
                if self._state == _CLOSED:
                    raise ClientClosedError("the client was closed while this call ran") from exc
                raise
        finally:
            slots.give()
        if data is None:
            raise build_error(
                status,
                reply_headers,
                b"",
                retry_attempts=attempt - 1,
                code="ReplyTooLarge",
                message=f"reply body exceeds max_reply_bytes={self._config.max_reply_bytes}",
            )
        auto = self._auto_rate
        if auto is None:
            session = parse_reply(status, reply_headers, data, retry_attempts=attempt - 1)
        else:
            try:
                session = parse_reply(status, reply_headers, data, retry_attempts=attempt - 1)
            except GlueError as exc:
                auto.failed(exc, attempt)
                raise
            auto.succeeded()
        if call is not None:
            call.reply(status, reply_headers)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "GetSession attempt %d: HTTP %d OK request_id=%s",
                attempt,
                status,
                reply_headers.get("x-amzn-RequestId", "-"),
            )
        return session

    def _admit(self, attempt: int) -> None:
        """Before a call waits: ``ClientBusyError`` when ``max_waiting`` calls already wait
        (a call's first attempt only: a retry of an admitted call waits its turn)."""
        limit = self._max_waiting
        if limit is not None and attempt == 1 and self._waiting >= limit:
            raise ClientBusyError(
                f"{self._waiting} calls already wait for a send slot or a rate token "
                f"(max_waiting={limit}); this call was refused and nothing was sent"
            )

    def _enter_wait(self, attempt: int) -> Callable[[], None]:
        """An attempt is about to wait for the adaptive limiter's token: admitted (or refused
        with ``ClientBusyError``) and counted as waiting until the returned function is called."""
        self._admit(attempt)
        self._waiting += 1
        return self._leave_wait

    def _leave_wait(self) -> None:
        self._waiting -= 1

    async def _wait_for_slot(self, attempt: int, deadline: float | None) -> None:
        """Wait in line for one of the ``max_connections`` send slots."""
        self._admit(attempt)
        self._waiting += 1
        try:
            got = await self._slots.take(
                None if deadline is None else deadline - self._retrier.clock()
            )
        finally:
            self._waiting -= 1
        if not got:
            raise ReadTimeoutError(
                endpoint_url=self._signer.url,
                error="total timeout reached waiting for a send slot",
            )

    async def _wait_for_token(self, rate: RateLimit, attempt: int, deadline: float | None) -> None:
        """Wait (through the ``sleep`` seam) for this request's ``max_rate`` token."""
        self._admit(attempt)
        auto = self._auto_rate
        if auto is not None:  # a rate that moves while calls wait (see AutoRate)
            self._waiting += 1
            try:
                if await auto.wait(self._sleep, deadline):
                    return
            finally:
                self._waiting -= 1
            raise ReadTimeoutError(
                endpoint_url=self._signer.url,
                error="total timeout reached waiting for a max_rate token",
            )
        wait = rate.reserve(deadline)
        if wait is None:
            raise ReadTimeoutError(
                endpoint_url=self._signer.url,
                error="total timeout reached waiting for a max_rate token",
            )
        if wait <= 0.0:
            return
        self._waiting += 1
        try:
            await self._sleep(wait)
        except BaseException:
            rate.give_back()
            raise
        finally:
            self._waiting -= 1

    async def _recover(self, exc: BaseException, done: set[str]) -> bool:
        """Clock skew and expired tokens: fixed once per call, then sent again at once."""
        if not isinstance(exc, GlueError):
            return False
        code = exc.code
        if "skew" not in done:
            headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            if self._signer.correct_clock(code, exc.message, headers):
                done.add("skew")
                logger.debug(
                    "correcting signing clock by %.1fs after %s", self._signer.offset, code
                )
                return True
        if code in _EXPIRED_TOKEN_CODES and "token" not in done:
            done.add("token")
            await self._credentials.force_refresh()
            return True
        return False


_get_ident = threading.get_ident


def _uncancel(task: asyncio.Task[Any]) -> None:
    """Undo the cancel that close() sent, as the call ends in ``ClientClosedError`` instead: a
    task left marked as cancelling would break ``asyncio.timeout`` / ``TaskGroup`` in the
    caller (Python 3.11+; 3.10 keeps no such mark)."""
    if sys.version_info >= (3, 11) and task.cancelling():
        task.uncancel()
