"""Credentials for signing, resolved and refreshed by botocore — off the event loop.

botocore's chain (env, shared files, SSO, assume-role, web identity, container, IMDS) and its
``RefreshableCredentials`` do all the real work; what they lack for asyncio is added here:

* every call into them that can block (the first resolution, any refresh) runs in a worker thread;
* signing reads a cached ``ReadOnlyCredentials`` snapshot, so the common path costs one clock read;
* when the snapshot enters botocore's advisory or mandatory refresh window, **one** refresh runs
  for every concurrent caller (single flight). In the advisory window callers keep signing with the
  still-valid snapshot while it runs, and a failure is only logged (botocore's rule); in the
  mandatory window callers wait for it, and a failure is raised to each of them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from .errors import NoCredentialsFoundError

if TYPE_CHECKING:
    from typing import TypeAlias

    import botocore.session
    from botocore.credentials import Credentials, ReadOnlyCredentials

# botocore.credentials is not imported here: with explicit keys a client never needs it (it
# imports botocore.tokens, and its import is part of every cold start otherwise). Its classes are
# only named for type checks, and an isinstance test against RefreshableCredentials is made only
# once the module is loaded (see _refreshable).

__all__ = ["CredentialCache", "ExplicitCredentials", "FrozenCredentials", "redact"]

logger = logging.getLogger(__name__)


def redact(value: str | None) -> str:
    """A key id shortened for logs and reprs (``AKIA...WXYZ``); never used for secrets."""
    if not value:
        return "None"
    return f"{value[:4]}...{value[-4:]}" if len(value) > 12 else "****"


class FrozenCredentials(NamedTuple):
    """botocore's ``ReadOnlyCredentials`` (a named tuple of the same three fields), for the
    explicit keys' snapshot: what the signer reads."""

    access_key: str
    secret_key: str
    token: str | None


class ExplicitCredentials:
    """Keys given to the client, as botocore's ``Credentials(key, secret, token,
    method="explicit")`` offers them to ``CredentialCache`` (the keys, ``method``,
    ``get_frozen_credentials()``), without importing ``botocore.credentials``."""

    __slots__ = ("access_key", "method", "secret_key", "token")

    def __init__(self, access_key: str, secret_key: str, token: str | None = None) -> None:
        # (botocore's _normalize is ensure_unicode, a no-op on Python 3: the keys are kept.)
        self.access_key = access_key
        self.secret_key = secret_key
        self.token = token
        self.method = "explicit"

    def __repr__(self) -> str:
        return f"ExplicitCredentials(access_key={redact(self.access_key)})"

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        # The same named-tuple shape as botocore's (all the signer reads), so typed as it.
        frozen = FrozenCredentials(self.access_key, self.secret_key, self.token)
        return cast("ReadOnlyCredentials", frozen)


if TYPE_CHECKING:
    #: Credentials that a cache holds: botocore's (static or refreshable) or explicit keys.
    Static: TypeAlias = Credentials | ExplicitCredentials


def _refreshable(credentials: object) -> bool:
    """``isinstance(credentials, RefreshableCredentials)``, without importing
    ``botocore.credentials``: an instance of that class (or of a subclass) exists only once its
    module has been loaded."""
    module = sys.modules.get("botocore.credentials")
    return module is not None and isinstance(credentials, module.RefreshableCredentials)


class CredentialCache:
    """Hands out frozen credentials for signing; resolves and refreshes them off the loop.

    ``source`` is either static credentials (botocore's ``Credentials``, refreshable or not, or
    ``ExplicitCredentials``) or a zero-argument callable that runs botocore's chain (it is called
    in a worker thread and may return ``None``); ``where`` describes the chain for the
    ``NoCredentialsError`` message.
    """

    def __init__(
        self,
        source: Static | Callable[[], Credentials | None],
        *,
        where: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._source = source
        self._where = where
        self._clock = clock
        self._credentials: Static | None = None if callable(source) else source
        self._frozen: ReadOnlyCredentials | None = None
        # Wall-clock second after which the snapshot must be looked at again (refresh windows).
        self._advisory_at = float("inf")
        self._mandatory_at = float("inf")
        self._inflight: asyncio.Future[ReadOnlyCredentials] | None = None
        self._background: asyncio.Task[Any] | None = None
        if self._credentials is not None and not _refreshable(self._credentials):
            self._frozen = self._credentials.get_frozen_credentials()

    def __repr__(self) -> str:
        key = self._frozen.access_key if self._frozen else None
        method = getattr(self._credentials, "method", None)
        return f"CredentialCache(access_key={redact(key)}, method={method!r})"

    @property
    def method(self) -> str | None:
        """botocore's name for where the credentials came from (``env``, ``sso``, ...)."""
        return getattr(self._credentials, "method", None)

    def current(self) -> ReadOnlyCredentials | None:
        """Frozen credentials valid for signing now, if that needs no waiting (the hot path:
        no coroutine); ``None`` when ``await get()`` must fetch or refresh them first."""
        frozen = self._frozen
        if frozen is not None and self._clock() < self._advisory_at:
            return frozen
        return None

    async def get(self) -> ReadOnlyCredentials:
        """Frozen credentials valid for signing now."""
        frozen = self._frozen
        if frozen is not None:
            now = self._clock()
            if now < self._advisory_at:
                return frozen
            if now < self._mandatory_at:
                # Advisory window: refresh in the background, keep signing with what we have.
                self._start_background_refresh()
                return frozen
        return await self._single_flight(force=False)

    async def force_refresh(self) -> ReadOnlyCredentials:
        """Fetch new credentials now (the service said the token expired); single flight."""
        return await self._single_flight(force=True)

    async def aclose(self) -> None:
        background, self._background = self._background, None
        if background is not None and not background.done():
            background.cancel()
            await asyncio.gather(background, return_exceptions=True)

    # --- internals -------------------------------------------------------------------------------

    def _start_background_refresh(self) -> None:
        if self._inflight is None and (self._background is None or self._background.done()):
            self._background = asyncio.get_running_loop().create_task(self._quiet_refresh())

    async def _quiet_refresh(self) -> None:
        try:
            await self._single_flight(force=False)
        except Exception:
            logger.debug("advisory credential refresh failed; still using current credentials")

    def _single_flight(self, force: bool) -> asyncio.Future[ReadOnlyCredentials]:
        inflight = self._inflight
        if inflight is None or inflight.done():
            loop = asyncio.get_running_loop()
            inflight = loop.create_future()
            self._inflight = inflight
            task = loop.create_task(self._resolve(force))
            task.add_done_callback(functools.partial(self._settle, future=inflight))
        # shield: one caller being cancelled must not cancel the refresh the others wait on.
        return asyncio.shield(inflight)

    def _settle(
        self,
        task: asyncio.Task[ReadOnlyCredentials],
        *,
        future: asyncio.Future[ReadOnlyCredentials],
    ) -> None:
        if self._inflight is future:
            self._inflight = None
        if future.done():
            return
        if task.cancelled():
            future.cancel()
        elif (exc := task.exception()) is not None:
            future.set_exception(exc)
            # Mark retrieved: with no waiter left, asyncio would log "exception never retrieved".
            future.exception()
        else:
            future.set_result(task.result())

    async def _resolve(self, force: bool) -> ReadOnlyCredentials:
        frozen, advisory_at, mandatory_at = await asyncio.to_thread(self._resolve_blocking, force)
        self._frozen, self._advisory_at, self._mandatory_at = frozen, advisory_at, mandatory_at
        return frozen

    def _resolve_blocking(self, force: bool) -> tuple[ReadOnlyCredentials, float, float]:
        """Runs in a worker thread: everything here may do file or network I/O."""
        creds = self._credentials
        if creds is None or (force and not _refreshable(creds)):
            # Static keys have nothing newer to fetch; a chain is asked again.
            creds = self._source() if callable(self._source) else self._source
            if creds is None:
                raise NoCredentialsFoundError(where=self._where or "botocore's credential chain")
            self._credentials = creds
        if _refreshable(creds):
            # botocore keeps its refresh machinery private; these are its attributes, read (not
            # re-implemented) so that its rules stay the rules.
            internals: Any = creds
            if force:
                # The service refused the token: refresh now, as in botocore's mandatory window.
                with internals._refresh_lock:
                    internals._protected_refresh(is_mandatory=True)
            # botocore's own rules: refresh if in a window; advisory failure keeps the old keys.
            frozen = creds.get_frozen_credentials()
            if internals._expiry_time is None:
                return frozen, float("inf"), float("inf")
            remaining = float(internals._seconds_remaining())
            now = self._clock()
            return (
                frozen,
                now + remaining - float(internals._advisory_refresh_timeout),
                now + remaining - float(internals._mandatory_refresh_timeout),
            )
        frozen = creds.get_frozen_credentials()
        if frozen.access_key is None or frozen.secret_key is None:
            raise NoCredentialsFoundError(where=self._where or "botocore's credential chain")
        return frozen, float("inf"), float("inf")


def chain_source(session: botocore.session.Session) -> Callable[[], Credentials | None]:
    """botocore's full credential chain for ``session`` (call it in a worker thread)."""
    return session.get_credentials


CHAIN_DESCRIPTION = (
    "explicit arguments, environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), "
    "shared credentials and config files (profile {profile!r}), SSO, assume-role, "
    "web identity, container credentials, EC2 instance metadata"
)
