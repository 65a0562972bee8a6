"""Bulk lookups: many ids, bounded concurrency, one result per distinct id, nothing leaked."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
)
from typing import Any

from .errors import ParamValidationError
from .models import Session, SessionResult

__all__ = ["iter_session_results"]

Fetch = Callable[[str], Awaitable[Session]]

#: New lookups started between two yields to the event loop.
_START_BATCH = 64


async def _from_sync(ids: Iterable[Any]) -> AsyncGenerator[Any, None]:
    for item in ids:
        yield item


async def _one(fetch: Fetch, session_id: str) -> SessionResult:
    try:
        return SessionResult(id=session_id, session=await fetch(session_id))
    except Exception as exc:  # one id's failure is that id's result
        return SessionResult(id=session_id, error=exc)


async def iter_session_results(
    fetch: Fetch,
    ids: Iterable[str] | AsyncIterable[str],
    *,
    concurrency: int,
) -> AsyncIterator[SessionResult]:
    """Yield one ``SessionResult`` per distinct id, in completion order.

    Ids are pulled lazily: a new id is taken only when a slot is free, so at most ``concurrency``
    lookups are in flight and a huge generator is never held in memory (only the set of ids seen,
    for de-duplication). Leaving the ``async for`` early cancels and awaits every lookup in flight.
    """
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive int, not {concurrency!r}")
    loop = asyncio.get_running_loop()
    source: AsyncIterator[Any] = aiter(ids) if isinstance(ids, AsyncIterable) else _from_sync(ids)
    seen: set[str] = set()
    pending: set[asyncio.Task[SessionResult]] = set()
    # Finished lookups queue here in completion order; one future wakes the generator. (Not
    # asyncio.wait: it re-scans every pending task on each wake-up, O(concurrency) per result.)
    finished: deque[asyncio.Task[SessionResult]] = deque()
    wakeup: asyncio.Future[None] | None = None

    def on_done(task: asyncio.Task[SessionResult]) -> None:
        finished.append(task)
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    exhausted = False
    started = 0
    try:
        while True:
            # Fill free slots. Ids that are not strings are answered at once, without a slot.
            while not exhausted and len(pending) < concurrency:
                try:
                    item = await source.__anext__()
                except StopAsyncIteration:
                    exhausted = True
                    break
                if not isinstance(item, str):
                    yield SessionResult(
                        id=str(item),
                        error=ParamValidationError(
                            f"Invalid type for parameter Id, value: {item!r:.80}, "
                            f"type: {type(item).__name__}, valid types: str"
                        ),
                    )
                    continue
                if item in seen:
                    continue
                seen.add(item)
                task = loop.create_task(_one(fetch, item), name=item)
                task.add_done_callback(on_done)
                pending.add(task)
                started += 1
                if started % _START_BATCH == 0:
                    # Let the loop run between batches of new lookups: filling 10,000 free
                    # slots in one go would otherwise stall every other task on the loop.
                    await asyncio.sleep(0)
            if not finished:
                if not pending:
                    return
                wakeup = loop.create_future()
                await wakeup
                wakeup = None
            task = finished.popleft()
            pending.discard(task)
            yield _result_of(task)
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        # Close the id source too (an async generator's ``finally`` runs now, not at GC).
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()


def _result_of(task: asyncio.Task[SessionResult]) -> SessionResult:
    if task.cancelled():
        # Cancelled from outside (not by us): still exactly one result for that id.
        return SessionResult(id=task.get_name(), error=asyncio.CancelledError())
    return task.result()
