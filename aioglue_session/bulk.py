"""Bulk lookups: many ids, bounded concurrency, one result per distinct id, nothing leaked."""

from __future__ import annotations

import asyncio
import types
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import botocore.exceptions

from ._slots import Slots
from .errors import ClientClosedError, ParamValidationError
from .models import Session, SessionResult
from .protocol import validate_session_id

__all__ = ["CLIENT_FAILURES", "check_ids", "iter_session_results"]

Fetch = Callable[[str], Awaitable[Session]]

#: Failures of the client rather than of an id. Each would come back identically for every id
#: (no credentials, no region, credentials that cannot be fetched, the client closed), so
#: answering each id with it would bury one configuration problem under thousands of copies.
#: The bulk iterator raises the first of them once instead, and stops. Everything else (a Glue
#: error reply, a network failure after retries, an invalid id) is about one id and stays its
#: result. botocore's SSO errors exist only in newer releases, hence the ``getattr``.
CLIENT_FAILURES: tuple[type[BaseException], ...] = tuple(
    cls
    for cls in (
        botocore.exceptions.NoCredentialsError,  # and subclasses (NoAuthTokenError, ...)
        botocore.exceptions.NoRegionError,
        botocore.exceptions.PartialCredentialsError,
        botocore.exceptions.CredentialRetrievalError,
        getattr(botocore.exceptions, "TokenRetrievalError", None),
        getattr(botocore.exceptions, "SSOTokenLoadError", None),
        getattr(botocore.exceptions, "UnauthorizedSSOTokenError", None),
        ClientClosedError,
    )
    if cls is not None
)

#: Workers started between two yields to the event loop.
_START_BATCH = 64
_END = object()


def check_ids(ids: object, method: str) -> None:
    """``TypeError`` unless ``ids`` is an iterable or async iterable, and not a bare ``str`` /
    ``bytes`` (one id, not many); ``method`` names the call in the message's example."""
    if isinstance(ids, (str, bytes, bytearray)):
        raise TypeError(
            f"ids must be an iterable of session ids, not a single {type(ids).__name__}: "
            f"wrap one id in a list, e.g. {method}([session_id])"
        )
    if not isinstance(ids, (Iterable, AsyncIterable)):
        raise TypeError(
            f"ids must be an iterable or async iterable of str, not {type(ids).__name__}"
        )


def iter_session_results(
    fetch: Fetch,
    ids: Iterable[str] | AsyncIterable[str],
    *,
    concurrency: int,
) -> AsyncIterator[SessionResult]:
    """Yield one ``SessionResult`` per distinct id, in completion order.

    Up to ``concurrency`` worker tasks each take the next id, look it up and hand the result
    over, so at most ``concurrency`` lookups are in flight. Ids are pulled lazily: a worker takes
    a new id only while fewer than ``2 * concurrency`` results are in flight or waiting to be
    consumed, so a huge generator is never held in memory (only the set of ids seen, for
    de-duplication) and a slow consumer holds the lookups back. Leaving the ``async for`` early
    cancels and awaits every worker and closes a generator id source (sync or async).

    A failure of the client rather than of an id (``CLIENT_FAILURES``) is raised out of the
    iterator once, after the other lookups are cancelled, instead of becoming every id's result.

    The arguments are checked here, when this is called, not at the first ``anext``: a bare
    ``str`` (or ``bytes``) is one id, not many, and is refused with ``TypeError``.
    """
    check_ids(ids, "get_sessions")
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive int, not {concurrency!r}")
    return _results(fetch, ids, concurrency)


async def _results(
    fetch: Fetch, ids: Iterable[str] | AsyncIterable[str], concurrency: int
) -> AsyncIterator[SessionResult]:
    loop = asyncio.get_running_loop()
    source: Any
    if isinstance(ids, AsyncIterable):
        is_async, source = True, aiter(ids)
    else:
        is_async, source = False, iter(ids)
    pull_lock = asyncio.Lock()  # an async iterator must not be advanced by two tasks at once
    seen: set[str] = set()
    # Credits: lookups in flight plus results not yet consumed. A worker needs one to take an id;
    # the consumer gives it back when it takes the result. Twice `concurrency`, so that workers
    # keep going while the consumer is a loop iteration behind (with exactly `concurrency` every
    # worker would stall for the consumer after each lookup), yet a slow consumer still holds
    # the lookups back after at most `concurrency` unconsumed results.
    credits = Slots(2 * concurrency)
    ready: deque[SessionResult] = deque()
    workers: set[asyncio.Task[None]] = set()
    wakeup: asyncio.Future[None] | None = None
    exhausted = False
    # The id source raised, or a lookup failed for a reason that is the client's, not the id's:
    # re-raised to the consumer, once.
    failure: list[BaseException] = []

    def wake() -> None:
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    async def pull() -> Any:
        """The next id of an async iterable, or ``_END``."""
        nonlocal exhausted
        if exhausted:
            return _END
        async with pull_lock:
            if exhausted:
                return _END
            try:
                item = await source.__anext__()
            except StopAsyncIteration:
                item = _END
        if item is _END:
            exhausted = True
        return item

    async def worker() -> None:
        nonlocal exhausted
        try:
            while not failure:
                if not credits.try_take():
                    await credits.take()
                if failure:
                    return
                if is_async:
                    item = await pull()
                    while isinstance(item, str) and item in seen:
                        item = await pull()
                else:  # (the common case: no call per id)
                    item = _END if exhausted else next(source, _END)
                    while isinstance(item, str) and item in seen:
                        item = next(source, _END)
                    if item is _END:
                        exhausted = True
                if item is _END:
                    credits.give()
                    return
                if not isinstance(item, str):
                    # Not a string: answered at once with the validator's error, no lookup.
                    try:
                        validate_session_id(item)
                    except ParamValidationError as exc:
                        ready.append(SessionResult(id=str(item), error=exc))
                        wake()
                    continue
                seen.add(item)
                try:
                    # (positional: ~0.1 µs less per result than keywords)
                    result = SessionResult(item, await fetch(item))
                except CLIENT_FAILURES as exc:  # the client's failure, not this id's
                    failure.append(exc)
                    return
                except Exception as exc:  # one id's failure is that id's result
                    result = SessionResult(id=item, error=exc)
                except asyncio.CancelledError:
                    if not cancelling:
                        # Cancelled from outside (not by us): still exactly one result.
                        ready.append(SessionResult(id=item, error=asyncio.CancelledError()))
                    raise
                ready.append(result)
                wake()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the id source failed
            failure.append(exc)
            # (Returning here, and at a client failure above, lets the consumer raise it.)
        finally:
            workers.discard(asyncio.current_task())
            wake()

    cancelling = False
    try:
        while True:
            if failure:
                raise failure[0]
            # Start workers in batches, yielding to the loop between batches, until there are
            # `concurrency` of them or the source has run dry.
            if len(workers) < concurrency and not exhausted:
                for _ in range(min(_START_BATCH, concurrency - len(workers))):
                    workers.add(loop.create_task(worker()))
                if len(workers) < concurrency:
                    await asyncio.sleep(0)
            if ready:
                result = ready.popleft()
                credits.give()
                yield result
                continue
            if not workers and exhausted:
                return
            if len(workers) >= concurrency or exhausted:
                wakeup = loop.create_future()
                await wakeup
                wakeup = None
    finally:
        cancelling = True
        pending = list(workers)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        # Close a generator id source too: its ``finally`` runs now, not whenever it is
        # collected (for an async generator, possibly outside any event loop).
        if is_async:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()
        elif isinstance(source, types.GeneratorType):
            source.close()
