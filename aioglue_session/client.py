"""``GlueSessionClient``: the asyncio front door.

The client wires the pieces together and owns the one thing none of them has: the aiohttp
session. A call is ``validate -> encode -> Retrier.call(attempt)``; an attempt is
``credentials -> sign -> POST -> read (capped) -> parse_reply``. Everything that may block
(config files, the credential chain, a CA bundle) runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import ssl
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Iterable
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any

import aiohttp
import botocore
import botocore.session
from botocore.credentials import Credentials
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    SSLError,
)

from . import errors
from ._slots import Slots
from .bulk import iter_session_results
from .config import DEFAULT_MAX_REPLY_BYTES, RetryConfig, Timeouts
from .credentials import CHAIN_DESCRIPTION, CredentialCache, chain_source, redact
from .endpoints import Settings, check_endpoint_url, resolve_settings
from .errors import ClientClosedError, GlueError
from .models import Session, SessionResult, SessionStatus
from .protocol import (
    build_error,
    encode_request,
    parse_reply,
    validate_request_origin,
    validate_session_id,
)
from .retries import Retrier
from .signing import GlueSigner
from .waiter import wait_for_session

__all__ = ["GlueSessionClient"]

logger = logging.getLogger("aioglue_session")

__version__ = "0.1.0"
USER_AGENT = (
    f"aioglue-session/{__version__} botocore/{botocore.__version__} "
    f"aiohttp/{aiohttp.__version__} Python/{sys.version_info[0]}.{sys.version_info[1]}"
)

# Codes that say the request's signing time is too far from the service's clock.
_SKEW_CODES = frozenset(
    {"RequestTimeTooSkewed", "RequestExpired", "InvalidSignatureException", "SignatureDoesNotMatch"}
)
_EXPIRED_TOKEN_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpiredException"}
)

_NEW, _OPEN, _CLOSED = "new", "open", "closed"


class GlueSessionClient:
    """An asyncio client for AWS Glue ``GetSession``.

    Use as ``async with GlueSessionClient(region="eu-west-1") as glue: ...``. All arguments are
    keyword-only; missing ones are resolved as boto3 resolves them (see the README).
    """

    #: ``glue.exceptions.EntityNotFoundException`` etc., as with a boto3 client.
    exceptions = errors

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
    ) -> None:
        if (aws_access_key_id is None) != (aws_secret_access_key is None):
            raise errors.PartialCredentialsError(
                provider="explicit",
                cred_var="aws_secret_access_key"
                if aws_secret_access_key is None
                else "aws_access_key_id",
            )
        if endpoint_url is not None:
            check_endpoint_url(endpoint_url)
        if retry is not None and not isinstance(retry, RetryConfig):
            raise TypeError("retry must be a RetryConfig")
        if timeouts is not None and not isinstance(timeouts, Timeouts):
            raise TypeError("timeouts must be a Timeouts")
        if not isinstance(max_connections, int) or max_connections < 1:
            raise ValueError("max_connections must be a positive int")
        if not isinstance(max_reply_bytes, int) or max_reply_bytes < 1:
            raise ValueError("max_reply_bytes must be a positive int")
        self._region_arg = region
        self._profile = profile
        self._explicit: Credentials | None = (
            Credentials(aws_access_key_id, aws_secret_access_key, aws_session_token, "explicit")
            if aws_access_key_id is not None and aws_secret_access_key is not None
            else None
        )
        self._endpoint_arg = endpoint_url
        self._retry_config = retry
        self._timeouts = timeouts or Timeouts()
        self._max_connections = max_connections
        self._user_http = http_session
        self._botocore_session = botocore_session
        self._max_reply_bytes = max_reply_bytes
        self._state = _NEW
        self._settings: Settings | None = None
        self._http: aiohttp.ClientSession | None = None
        self._credentials: CredentialCache | None = None
        self._retrier: Retrier | None = None
        self._url = ""
        self._request_timeout: aiohttp.ClientTimeout | None = None
        self._skew = timedelta(0)
        self._skew_seconds = 0.0
        self._date_second = -1
        self._date_text = ""
        self._signer: GlueSigner | None = None
        self._calls: set[asyncio.Task[Any]] = set()
        self._slots = Slots(max_connections)
        self._open_lock: asyncio.Lock | None = None

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
        """Resolve settings (off the loop) and create the HTTP pool. ``async with`` calls this."""
        if self._state == _OPEN:
            return
        if self._state == _CLOSED:
            raise ClientClosedError("this GlueSessionClient is closed; create a new one")
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._state != _NEW:
                return
            await self._open()

    def _resolve_blocking(
        self,
    ) -> tuple[botocore.session.Session, Settings, ssl.SSLContext | bool]:
        """Everything at start-up that reads files; runs in a worker thread."""
        session = self._botocore_session
        if session is None:
            # With explicit keys the session is only read for settings, never used to create
            # clients (the assume-role and SSO providers do that), so it needs no event handlers.
            session = botocore.session.Session(
                profile=self._profile, include_builtin_handlers=self._explicit is None
            )
        elif self._profile is not None:
            session.set_config_variable("profile", self._profile)
        settings = resolve_settings(
            session,
            region=self._region_arg,
            endpoint_url=self._endpoint_arg,
            retry=self._retry_config,
        )
        ssl_context: ssl.SSLContext | bool = True
        if isinstance(settings.verify, str) and settings.endpoint_url.startswith("https:"):
            # (Loading a CA bundle takes ~15 ms; a plain-http endpoint never needs it.)
            ssl_context = ssl.create_default_context(cafile=settings.verify)
        return session, settings, ssl_context

    async def _open(self) -> None:
        session, settings, ssl_context = await asyncio.to_thread(self._resolve_blocking)
        if self._explicit is not None:
            self._credentials = CredentialCache(self._explicit, where="explicit arguments")
        else:
            where = CHAIN_DESCRIPTION.format(profile=session.profile or "default")
            self._credentials = CredentialCache(chain_source(session), where=where)
        self._retrier = Retrier(mode=settings.retry_mode, max_attempts=settings.max_attempts)
        timeouts = self._timeouts
        self._request_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.connect, sock_read=timeouts.read
        )
        if self._user_http is not None:
            self._http = self._user_http
        else:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, limit_per_host=0, ssl=ssl_context
            )
            self._http = aiohttp.ClientSession(
                connector=connector,
                timeout=self._request_timeout,
                auto_decompress=True,
            )
        self._settings = settings
        self._url = settings.endpoint_url
        self._state = _OPEN

    async def close(self) -> None:
        """Close the client: fail in-flight calls with ``ClientClosedError``, release every
        connection. Idempotent; harmless on a client that was never opened."""
        if self._state == _CLOSED:
            return
        self._state = _CLOSED
        current = asyncio.current_task()
        pending = [t for t in self._calls if t is not current and not t.done()]
        for task in pending:
            task.cancel(msg="aioglue_session: client closed")
        if pending:
            await asyncio.wait(pending, timeout=5)
        if self._credentials is not None:
            await self._credentials.aclose()
        if self._http is not None and self._http is not self._user_http:
            await self._http.close()
        self._http = None

    def __repr__(self) -> str:
        key = self._explicit.access_key if self._explicit else None
        return (
            f"GlueSessionClient(region={self._settings.region if self._settings else None!r}, "
            f"endpoint_url={self._url or None!r}, state={self._state!r}, "
            f"access_key={redact(key) if key else None!r})"
        )

    # --- read-only settings ----------------------------------------------------------------------

    @property
    def region(self) -> str:
        return self._require_settings().region

    @property
    def endpoint_url(self) -> str:
        return self._require_settings().endpoint_url

    @property
    def retry_quota(self) -> int:
        """Retry capacity left in this client's shared retry quota (botocore: 500 at start)."""
        return int(self._require_retrier().quota.available_capacity)

    def _require_settings(self) -> Settings:
        if self._settings is None:
            raise ClientClosedError(
                "the client is not open yet: use 'async with GlueSessionClient(...)'"
            )
        return self._settings

    def _require_retrier(self) -> Retrier:
        if self._retrier is None:
            raise ClientClosedError("the client is not open yet")
        return self._retrier

    def _check_open(self) -> None:
        if self._state != _OPEN:
            if self._state == _CLOSED:
                raise ClientClosedError("this GlueSessionClient is closed")
            raise ClientClosedError(
                "this GlueSessionClient is not open: use 'async with GlueSessionClient(...)' "
                "or 'await client.open()'"
            )

    # --- GetSession ------------------------------------------------------------------------------

    async def get_session(self, session_id: str, *, request_origin: str | None = None) -> Session:
        """One ``AWSGlue.GetSession`` call, retried per the client's ``RetryConfig``."""
        sid = validate_session_id(session_id)
        origin = validate_request_origin(request_origin)
        self._check_open()
        body = encode_request(sid, origin)
        task = asyncio.current_task()
        if task is not None:
            self._calls.add(task)
        try:
            assert self._retrier is not None
            return await self._retrier.call(
                functools.partial(self._attempt, body),
                total=self._timeouts.total,
                recover=self._recover,
            )
        except asyncio.CancelledError:
            if self._state == _CLOSED and task is not None and _closing_cancel(task):
                raise ClientClosedError("the client was closed while this call ran") from None
            raise
        finally:
            if task is not None:
                self._calls.discard(task)

    def get_sessions(
        self,
        ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int = 16,
        request_origin: str | None = None,
    ) -> AsyncIterator[SessionResult]:
        """Look up many sessions: one ``SessionResult`` per distinct id, in completion order."""
        self._check_open()
        validate_request_origin(request_origin)

        def fetch(session_id: str) -> Awaitable[Session]:
            return self.get_session(session_id, request_origin=request_origin)

        return iter_session_results(fetch, ids, concurrency=concurrency)

    async def wait_for_session(
        self,
        session_id: str,
        *,
        until: Iterable[SessionStatus | str] = (SessionStatus.READY,),
        timeout: float = 600.0,
        poll_interval: float = 5.0,
    ) -> Session:
        """Poll until the session's status is in ``until``; ``WaiterError`` otherwise."""
        validate_session_id(session_id)
        self._check_open()
        return await wait_for_session(
            self.get_session,
            session_id,
            until=tuple(until),
            timeout=timeout,
            poll_interval=poll_interval,
        )

    # --- one attempt -----------------------------------------------------------------------------

    def _amz_date(self) -> str:
        """The signing time (``YYYYMMDDTHHMMSSZ``, corrected for clock skew), made once a second."""
        second = int(time.time() + self._skew_seconds)
        if second != self._date_second:
            self._date_second = second
            self._date_text = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
        return self._date_text

    async def _attempt(self, body: bytes, attempt: int, deadline: float | None) -> Session:
        """Sign and send one request, read the reply (capped), parse it.

        The request waits for one of the client's ``max_connections`` send slots before
        anything is built or signed, so a queued call holds a few hundred bytes rather than a
        prepared request, and every request is signed just before it goes out.
        """
        clock = self._retrier.clock  # type: ignore[union-attr]
        slots = self._slots
        if not slots.try_take() and not await slots.take(
            None if deadline is None else deadline - clock()
        ):
            raise ReadTimeoutError(
                endpoint_url=self._url, error="total timeout reached waiting for a send slot"
            )
        url = self._url
        try:
            http = self._http
            if http is None or self._state != _OPEN:
                raise ClientClosedError("this GlueSessionClient is closed")
            cache = self._credentials
            assert cache is not None
            credentials = cache.current() or await cache.get()
            signer = self._signer
            if signer is None or signer.credentials is not credentials:
                # One signer per set of frozen credentials: a refresh brings a new one.
                region = self._settings.region  # type: ignore[union-attr]
                signer = self._signer = GlueSigner(credentials, region, url, USER_AGENT)
            headers = signer.headers(body, self._amz_date())
            timeout = self._request_timeout
            if deadline is not None:
                remaining = deadline - clock()
                if remaining <= 0:
                    raise ReadTimeoutError(endpoint_url=url, error="total timeout reached")
                timeout = aiohttp.ClientTimeout(
                    total=remaining,
                    sock_connect=self._timeouts.connect,
                    sock_read=self._timeouts.read,
                )
            try:
                async with http.post(
                    url, data=body, headers=headers, timeout=timeout, allow_redirects=False
                ) as response:
                    status = response.status
                    reply_headers = response.headers
                    length = response.content_length
                    if (
                        length is not None
                        and length <= self._max_reply_bytes
                        and "Content-Encoding" not in reply_headers
                    ):
                        # The common case: the declared length is the body, within the cap.
                        data: bytes | None = await response.read()
                    else:
                        data = await self._read_capped(response)
            except aiohttp.ClientError as exc:
                if self._state == _CLOSED:
                    raise ClientClosedError("the client was closed while this call ran") from exc
                raise _network_error(exc, url) from exc
            except asyncio.TimeoutError as exc:
                raise ReadTimeoutError(endpoint_url=url, error=f"total timeout: {exc!r}") from exc
        finally:
            slots.give()
        if data is None:
            raise build_error(
                status,
                reply_headers,
                b"",
                retry_attempts=attempt - 1,
                code="ReplyTooLarge",
                message=f"reply body exceeds max_reply_bytes={self._max_reply_bytes}",
            )
        session = parse_reply(status, reply_headers, data, retry_attempts=attempt - 1)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "GetSession attempt %d: HTTP %d OK request_id=%s",
                attempt,
                status,
                reply_headers.get("x-amzn-RequestId", "-"),
            )
        return session

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes | None:
        """The body of a reply that is not plain and declared within the cap (``_attempt``
        reads those directly), or ``None`` when it is larger than ``max_reply_bytes``.

        The cap applies to the decoded body: a small gzip body that inflates past the cap (or a
        Content-Length that lies) is cut off while streaming, not after; it is never read whole.
        """
        cap = self._max_reply_bytes
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

    async def _recover(self, exc: BaseException, done: set[str]) -> bool:
        """Clock skew and expired tokens: fix once per call, then retry at once."""
        if not isinstance(exc, GlueError):
            return False
        code = exc.code
        if code in _SKEW_CODES and "skew" not in done:
            offset = _clock_offset(exc)
            if offset is None:
                return False
            done.add("skew")
            self._skew = offset
            self._skew_seconds = offset.total_seconds()
            logger.debug("correcting signing clock by %.1fs after %s", offset.total_seconds(), code)
            return True
        if code in _EXPIRED_TOKEN_CODES and "token" not in done:
            done.add("token")
            assert self._credentials is not None
            await self._credentials.force_refresh()
            return True
        return False


def _clock_offset(exc: GlueError) -> timedelta | None:
    """Server time minus local time, when the error says the signature's time is off."""
    code, message = exc.code, exc.message.lower()
    if code in ("InvalidSignatureException", "SignatureDoesNotMatch") and not (
        "signature expired" in message or "signature not yet current" in message
    ):
        return None
    date = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if not date:
        return None
    try:
        server = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return None
    if server.tzinfo is None:
        server = server.replace(tzinfo=timezone.utc)
    return server - datetime.now(timezone.utc)


def _closing_cancel(task: asyncio.Task[Any]) -> bool:
    """Turn the close()-initiated cancel into ClientClosedError without leaving the task
    marked as cancelling (so asyncio.timeout / TaskGroup in the caller keep working)."""
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+
    if uncancel is not None and getattr(task, "cancelling", lambda: 0)():
        uncancel()
    return True


def _network_error(exc: aiohttp.ClientError, url: str) -> Exception:
    """aiohttp's failure as the botocore exception boto3 users catch."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ConnectTimeoutError(endpoint_url=url, error=exc)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return ReadTimeoutError(endpoint_url=url, error=exc)
    if isinstance(exc, aiohttp.ClientSSLError):
        return SSLError(endpoint_url=url, error=exc)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return EndpointConnectionError(endpoint_url=url, error=exc)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return ConnectionClosedError(endpoint_url=url, error=exc)
    if isinstance(exc, aiohttp.ClientConnectionError):
        return ConnectionClosedError(endpoint_url=url, error=exc)
    return ConnectionClosedError(endpoint_url=url, error=exc)
