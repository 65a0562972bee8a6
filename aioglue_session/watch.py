"""Watching many sessions: one stream of changes, one polling budget (``watch_sessions``).

One scheduler serves every watched id, as asyncio's loop serves its timers: ids that are not due
yet wait on one timing wheel (slots of ``interval / 16``, each released whole when its latest id
is due: nothing sorted, no id read between its polls; see ``_timer``), ids that are due wait in
the queue of their priority group, and ``concurrency`` pollers take the next poll the budget
allows (a token bucket for ``max_rate``) or, when there is none, wait for one timer, through the
``sleep`` seam, that wakes one of them. There is no task per id: an id costs one small
``_Entry`` (``__slots__``; with ``changes="status"`` it keeps the last status, not the last
``Session``) and a place on the wheel, so 100,000 ids are cheap; a poller handles a poll's
result itself, with no task created and no other task woken per poll.

The budget goes where changes happen. Due ids are served by group: ids never polled, then ids
whose last status is transitional (PROVISIONING, STOPPING, or one this version does not know),
then the rest, longest-waiting first within each group (the queues are in the order ids became
due). Strict priority alone would starve the last group when the budget is short, so each
polled id also gets a hard deadline, ``last poll + interval + 2 N / max_rate`` (N ids watched),
and is promoted ahead of the transitional and settled groups in deadline order, early enough to
meet it: when ``now`` plus a poll's time for each id ahead of it (never polled, or promoted
already), the jitter's spread, a slot and a bucket's worth of polls reaches it. Ids never polled
go first, then the promoted, one token each, so no id goes longer than
``2 N / max_rate + interval`` between two polls (while polls are quick; a failing id waits its
backoff instead), and the budget left over goes by priority. (Promoted ids do not go before ids
never polled: when polls are slow rather than the budget short, every polled id is soon late,
and an id added then would otherwise never be polled.)

Every wait goes through the ``clock`` and ``sleep`` it is given (the client's seams), so a watch
runs in virtual time in tests.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from heapq import heappop, heappush
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from .bulk import CLIENT_FAILURES, check_ids
from .errors import ClientBusyError, GlueError, ParamValidationError, error_code
from .models import Session, SessionChange, SessionStatus
from .protocol import validate_session_id
from .ratelimit import check_rate

if TYPE_CHECKING:
    from .telemetry import Telemetry

__all__ = ["DEFAULT_UNTIL", "SessionWatch"]

DEFAULT_UNTIL = (SessionStatus.FAILED, SessionStatus.TIMEOUT, SessionStatus.STOPPED)

#: Error codes that end an id's watch: the session is gone, or it is refused for good.
PERMANENT_CODES = frozenset(
    {"EntityNotFoundException", "AccessDeniedException", "InvalidInputException"}
)
#: Statuses after which a session stays put for a while (anything else is transitional).
SETTLED = frozenset(
    {
        SessionStatus.READY,
        SessionStatus.FAILED,
        SessionStatus.TIMEOUT,
        SessionStatus.STOPPED,
    }
)
#: Backoff after consecutive transient failures: interval x 1, 2, 4, 8, then 8.
MAX_BACKOFF = 8

# An entry's state: waiting (on the wheel or in a queue: each entry is in one place at a time),
# polled now, or no longer watched (dropped wherever it is found).
_WAITING, _FLYING, _GONE = 0, 1, 2
# Its priority group.
_FRESH, _MOVING, _SETTLED = 0, 1, 2
# Slots of the timing wheel per interval (a poll may be released up to a slot late).
_SLOTS = 16
# Ids taken from a sync iterable between two yields to the loop.
_ADD_BATCH = 1024

Fetch = Callable[[str], Awaitable[Session]]


class _Entry:
    """One watched id: what the scheduler and the change stream need, nothing more."""

    __slots__ = (
        "deadline",
        "failures",
        "group",
        "id",
        "pending",
        "poller",
        "queued",
        "seen",
        "session",
        "state",
        "status",
    )

    def __init__(self, session_id: str) -> None:
        self.id = session_id
        self.state = _WAITING
        #: Its priority group: never polled, transitional, or settled (by its last status).
        self.group = _FRESH
        #: The hard deadline of the next poll (``inf`` before the first one).
        self.deadline = math.inf
        #: Transient failures in a row (the backoff exponent).
        self.failures = 0
        #: The status of the last change reported (pending or yielded; ``None``: none yet).
        #: Polls compare with it: with ``changes="status"`` no ``Session`` is kept.
        self.status: SessionStatus | str | None = None
        #: The status of the last change yielded (its ``previous``; ``None``: none yet).
        self.seen: SessionStatus | str | None = None
        #: The session of the last change yielded, kept with ``changes="any"`` only.
        self.session: Session | None = None
        #: The change waiting for the consumer (one at most: newer ones merge into it).
        self.pending: SessionChange | None = None
        #: Whether this entry is in the queue of pending changes.
        self.queued = False
        #: The poller making its poll (while ``state`` is ``_FLYING``).
        self.poller: asyncio.Task[None] | None = None

    def last_session(self) -> Session | None:
        """(``changes="any"``) The session of the last change reported."""
        pending = self.pending
        return pending.session if pending is not None else self.session


_random = random.random


class _Slot:
    """A slot of the timing wheel: ids of one group due close together, in the order they
    were scheduled, and when they are released (the latest due time among them)."""

    __slots__ = ("entries", "release")

    def __init__(self, entry: _Entry, due: float) -> None:
        self.entries = [entry]
        self.release = due


def _differ(before: Session, after: Session) -> bool:
    """``changes="any"``: whether any field differs."""
    return before != after and before.to_dict() != after.to_dict()


def _is_permanent(exc: BaseException) -> bool:
    if isinstance(exc, ParamValidationError):
        return True
    return isinstance(exc, GlueError) and exc.code in PERMANENT_CODES


def _status_text(status: SessionStatus | str) -> str:
    if not isinstance(status, str):
        raise TypeError(f"until must hold session statuses (str), not {type(status).__name__}")
    return status.value if isinstance(status, SessionStatus) else status


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive number, not {value!r}")
    return float(value)


class SessionWatch:
    """A watch over many sessions: an async iterator of
    [``SessionChange``][aioglue_session.SessionChange] and an async context manager.

    Made by ``glue.watch_sessions(...)``
    ([``GlueSessionClient.watch_sessions``][aioglue_session.GlueSessionClient.watch_sessions]),
    which gives the rules. Leaving the ``async with`` or the ``async for``, or
    ``await watch.aclose()``, stops every poll and leaves no task behind.
    """

    # Slots, not a __dict__: more attributes than an instance dict shares its keys for, and
    # every poll reads a dozen of them.
    __slots__ = (
        "__weakref__",
        "_any",
        "_burst",
        "_capacity",
        "_changes",
        "_clock",
        "_closed",
        "_concurrency",
        "_entries",
        "_failure",
        "_feeder",
        "_fetch",
        "_finals",
        "_fresh",
        "_grain",
        "_groups",
        "_idlers",
        "_instruments",
        "_interval",
        "_jitter",
        "_lapse",
        "_lead",
        "_loop",
        "_moving",
        "_next_due",
        "_per_poll",
        "_promoted",
        "_queues",
        "_rate",
        "_reported",
        "_settled",
        "_sleep",
        "_sleeper",
        "_sleeper_at",
        "_slots",
        "_soonest",
        "_source",
        "_source_done",
        "_span",
        "_spread",
        "_stopping",
        "_tat",
        "_telemetry",
        "_until",
        "_waiter",
        "_wheels",
        "_workers",
        "polls",
    )

    def __init__(
        self,
        fetch: Fetch,
        ids: Iterable[str] | AsyncIterable[str],
        *,
        interval: float = 5.0,
        until: Iterable[SessionStatus | str] = DEFAULT_UNTIL,
        max_rate: float | None = None,
        concurrency: int = 16,
        changes: Literal["status", "any"] = "status",
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[Any]],
        telemetry: Callable[[], Telemetry | None] = lambda: None,
    ) -> None:
        check_ids(ids, "watch_sessions")
        if isinstance(until, (str, bytes, bytearray)):
            raise TypeError(
                f"until must be an iterable of statuses, not a single {type(until).__name__}: "
                "e.g. until=('STOPPED',)"
            )
        self._interval = _number("interval", interval)
        self._rate = None if max_rate is None else check_rate(max_rate)
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive int, not {concurrency!r}")
        if changes not in ("status", "any"):
            raise ValueError(f"changes must be 'status' or 'any', not {changes!r}")
        self._until = frozenset(_status_text(s) for s in until)
        self._concurrency = concurrency
        self._any = changes == "any"
        self._fetch = fetch
        self._clock = clock
        self._sleep = sleep
        self._telemetry = telemetry

        self._entries: dict[str, _Entry] = {}
        #: Entries that ended (final) while their last change waits for the consumer.
        self._finals: dict[str, _Entry] = {}
        # Not due yet: a timing wheel (see ``_timer``). Due, by group: never polled (FIFO),
        # transitional and the rest (earliest deadline = longest waiting), promoted.
        self._grain = self._interval / _SLOTS
        # A poll's next one is due 0.9 to 1.1 x interval after it starts: drawn from 0.9 to
        # 1.1 x interval less a slot, since the wheel may release it up to a slot late.
        self._soonest = 0.9 * self._interval
        self._jitter = 0.2 * self._interval - self._grain
        #: By group: the slots of the wheel by number (``due // grain``).
        self._wheels: tuple[dict[float, _Slot], ...] = ({}, {}, {})
        #: Every slot as (number, group, slot): a heap, the earliest first.
        self._slots: list[tuple[float, int, _Slot]] = []
        #: When the earliest slot is released (``inf``: none).
        self._next_due = math.inf
        self._fresh: deque[_Entry] = deque()
        self._moving: deque[_Entry] = deque()
        self._settled: deque[_Entry] = deque()
        self._promoted: deque[_Entry] = deque()
        self._groups = (self._fresh, self._moving, self._settled)  # (by _FRESH, ...)
        self._queues = (self._fresh, self._promoted, self._moving, self._settled)  # (in order)
        self._workers: set[asyncio.Task[None]] = set()
        self._idlers: deque[asyncio.Future[None]] = deque()
        self._changes: deque[_Entry] = deque()
        # The token bucket (max_rate): at most max(1, rate) tokens, full at the start.
        self._capacity = max(1.0, self._rate or 1.0)
        self._tat = -math.inf
        self._burst = (self._capacity - 1.0) / (self._rate or 1.0)
        self._per_poll = 0.0 if self._rate is None else 1.0 / self._rate
        #: ``len(self._entries) / max_rate``: the time the budget takes to poll every id once.
        self._spread = 0.0
        # A poll's deadline: interval (+ 2 N / max_rate) after it, or 2 x interval.
        self._lapse = self._interval if self._rate is not None else 2 * self._interval
        #: From a poll to its deadline: ``_lapse + 2 * _spread``.
        self._span = self._lapse
        # How far ahead of a deadline an id is promoted, beyond one poll's time per id
        # promoted already: the jitter's spread and a bucket's worth of polls (see _promote).
        self._lead = 0.2 * self._interval + self._grain + (self._capacity + 1.0) * self._per_poll

        self._loop: asyncio.AbstractEventLoop | None = None
        self._feeder: asyncio.Task[None] | None = None
        self._sleeper: asyncio.Task[None] | None = None
        self._sleeper_at = math.inf
        self._waiter: asyncio.Future[None] | None = None
        self._failure: BaseException | None = None
        self._closed = False
        self._stopping = False
        #: What this watch has added to the ``watch.sessions`` up-down counter.
        self._reported = 0
        self._instruments: Any = None
        #: Polls started (for benchmarks and curious users; not part of the contract).
        self.polls = 0

        self._source: Any = None
        self._source_done = True
        if isinstance(ids, AsyncIterable):
            self._source, self._source_done = ids, False
        else:
            for item in ids:
                self._add_one(item)

    # --- the public surface ----------------------------------------------------------------------

    @property
    def watching(self) -> frozenset[str]:
        """The ids watched now (those that ended or were removed are not)."""
        return frozenset(self._entries)

    def add(self, *ids: str) -> None:
        """Start watching more ids (a plain method). An id watched already is left as it is;
        an id that ended is watched anew (its first poll gives a change with
        ``previous=None``)."""
        for session_id in ids:
            if not isinstance(session_id, str):
                raise TypeError(f"session ids are str, not {type(session_id).__name__}")
        if self._closed:
            raise RuntimeError("this watch has ended; start a new one with watch_sessions()")
        for session_id in ids:
            self._add_one(session_id)
        self._poke()

    def remove(self, *ids: str) -> None:
        """Stop watching ids (a plain method): no poll starts for them afterwards and none of
        their changes is yielded, even one already waiting. Ids not watched are ignored."""
        for session_id in ids:
            entry = self._entries.pop(session_id, None)
            if entry is not None:
                self._resized()
                entry.pending = None
                if entry.state == _FLYING and entry.poller is not None:
                    # Its poller is cancelled with it; another takes its place.
                    entry.poller.cancel()
                    if not self._stopping:
                        self._spawn()
                entry.state = _GONE
            ended = self._finals.pop(session_id, None)
            if ended is not None:
                ended.pending = None
        self._notify()
        self._poke()

    async def aclose(self) -> None:
        """Stop every poll and the id source; leave no task behind. Idempotent."""
        if self._closed:
            return
        self._closed = True
        tasks = [t for t in (self._sleeper, self._feeder) if t is not None]
        tasks += self._workers
        for task in tasks:
            task.cancel()
        try:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            source = self._source
            if source is not None:
                aclose = getattr(source, "aclose", None)
                if aclose is not None:
                    await aclose()
        finally:
            for entry in self._entries.values():
                entry.state = _GONE
            self._entries.clear()
            self._resized()
            self._finals.clear()
            self._changes.clear()
            self._sync_metrics()
            self._notify()

    async def __aenter__(self) -> SessionWatch:
        self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncIterator[SessionChange]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[SessionChange]:
        # A generator, so that leaving the ``async for`` (break, exception, cancellation)
        # closes the watch: its ``finally`` runs when the loop lets go of it.
        try:
            while True:
                try:
                    change = await self.__anext__()
                except StopAsyncIteration:
                    return
                yield change
        finally:
            await self.aclose()

    async def __anext__(self) -> SessionChange:
        """The next change; waits for one. Raises ``StopAsyncIteration`` when nothing is
        watched and the ids are exhausted, and a failure of the client (no credentials, the
        client closed) once."""
        self._begin()
        while True:
            failure = self._failure
            if failure is not None:
                self._failure = None
                await self.aclose()
                raise failure
            change = self._next_change()
            if change is not None:
                return change
            if self._closed or (not self._entries and self._source_done):
                await self.aclose()
                raise StopAsyncIteration
            waiter = self._waiter
            if waiter is None or waiter.done():
                assert self._loop is not None
                waiter = self._waiter = self._loop.create_future()
            await waiter

    def __repr__(self) -> str:
        in_flight = sum(1 for entry in self._entries.values() if entry.state == _FLYING)
        return (
            f"<SessionWatch watching={len(self._entries)} interval={self._interval:g} "
            f"max_rate={self._rate} in_flight={in_flight} polls={self.polls}"
            f"{' closed' if self._closed else ''}>"
        )

    # --- ids coming in ---------------------------------------------------------------------------

    def _add_one(self, item: object) -> None:
        if not isinstance(item, str):
            self._invalid(str(item), item)
            return
        if item in self._entries:
            return
        try:
            validate_session_id(item)
        except ParamValidationError as exc:
            self._report(_Entry(item), None, exc, final=True)
            return
        entry = _Entry(item)
        self._entries[item] = entry
        self._resized()
        self._fresh.append(entry)

    def _invalid(self, session_id: str, item: object) -> None:
        try:
            validate_session_id(item)
        except ParamValidationError as exc:
            self._report(_Entry(session_id), None, exc, final=True)

    async def _feed(self, source: AsyncIterator[Any]) -> None:
        """Take ids from an async iterable as it produces them."""
        try:
            while True:
                try:
                    item = await source.__anext__()
                except StopAsyncIteration:
                    break
                self._add_one(item)
                self._poke()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the id source failed: raised out of the iterator
            self._fail(exc)
            return
        self._source_done = True
        self._notify()

    # --- the change stream -----------------------------------------------------------------------

    def _report(
        self, entry: _Entry, session: Session | None, error: BaseException | None, *, final: bool
    ) -> None:
        """A change of ``entry``: queued for the consumer, or merged into its pending one."""
        status = None if session is None else session.status
        pending = entry.pending
        if pending is not None:
            if (
                not final
                and session is not None
                and entry.seen is not None
                and not self._differs_from_seen(entry, session)
            ):
                entry.pending = None  # back to what the consumer last saw: nothing to say
                entry.status = entry.seen
                return
            previous = pending.previous
        else:
            previous = entry.seen
        if status is not None:
            entry.status = status
        entry.pending = SessionChange(entry.id, session, previous, status, error, final)
        if final:
            self._finals[entry.id] = entry
        if not entry.queued:
            entry.queued = True
            self._changes.append(entry)
            self._notify()

    def _next_change(self) -> SessionChange | None:
        changes = self._changes
        while changes:
            entry = changes.popleft()
            entry.queued = False
            change = entry.pending
            if change is None:
                continue  # merged away or removed
            entry.pending = None
            if change.session is not None:
                entry.seen = change.status
                if self._any:
                    entry.session = change.session
            if change.final and self._finals.get(entry.id) is entry:
                del self._finals[entry.id]
            self._count_change(change)
            self._sync_metrics()
            return change
        return None

    def _differs_from_seen(self, entry: _Entry, session: Session) -> bool:
        """Whether ``session`` differs from the last one yielded for ``entry``."""
        if self._any:
            seen = entry.session
            return seen is None or _differ(seen, session)
        return entry.seen != session.status

    # --- the scheduler ---------------------------------------------------------------------------

    def _begin(self) -> None:
        """Start the pollers (and the id source's reader) on first use."""
        if self._loop is not None or self._closed:
            return
        loop = self._loop = asyncio.get_running_loop()
        for _ in range(self._concurrency):
            self._spawn()
        if self._source is not None:
            self._feeder = loop.create_task(self._feed(aiter(self._source)))

    def _spawn(self) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self._work())
        self._workers.add(task)
        task.add_done_callback(self._workers.discard)

    async def _work(self) -> None:
        """One of ``concurrency`` pollers: take the next poll the budget allows, make it,
        handle its result; wait (one timer for all of them) when there is none."""
        me = asyncio.current_task(self._loop)
        assert me is not None
        fetch, clock, any_field, take = self._fetch, self._clock, self._any, self._next
        polls = 0
        try:
            while not self._stopping:
                now = clock()
                entry = take(now)
                if entry is None:
                    await self._idle(now)
                    continue
                entry.poller = me
                try:
                    session = await fetch(entry.id)
                except CLIENT_FAILURES as exc:  # the client's failure, not this id's
                    self._fail(exc)
                    return
                except RuntimeError as exc:
                    if not isinstance(exc, ClientBusyError):
                        self._fail(exc)  # (the client used from another event loop)
                        return
                    if entry.state == _FLYING:  # (max_waiting shed it: a transient failure)
                        self._failed(entry, exc)
                except Exception as exc:
                    if entry.state == _FLYING:
                        self._failed(entry, exc)
                else:
                    if entry.state == _FLYING:
                        if any_field or entry.status != session.status:
                            self._succeeded(entry, session, now)
                        else:  # (the common case, inline: nothing changed)
                            entry.failures = 0
                            self._reschedule(entry, now)
                polls += 1
                if not polls & 63:
                    # A transport that answers without suspending (a mock) would otherwise
                    # keep this loop to itself: let the rest of the loop run now and then.
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a bug here must not leave the consumer waiting
            self._fail(exc)

    def _next(self, now: float) -> _Entry | None:
        """The id to poll now, if the budget allows one (its token taken), else ``None``."""
        if now >= self._next_due:
            self._fire(now)
        fresh, promoted, moving, settled = self._queues
        # Promotion matters only when transitional ids would go before settled ones: a group
        # alone is served in its queue's order, the order promotion would give it.
        if moving and settled:
            self._promote(now)
        queue = fresh or promoted or moving or settled
        if not queue:
            return None
        if self._rate is not None:
            tat = self._tat
            if tat < now:
                tat = now
            elif now < tat - self._burst:
                return None  # no token yet
            self._tat = tat + self._per_poll
        entry = queue.popleft()
        if entry.state != _WAITING:  # (removed while it waited: skip such)
            found = self._pick()
            if found is None:
                if self._rate is not None:
                    self._tat -= self._per_poll  # (the token back)
                return None
            entry = found
        entry.state = _FLYING
        # interval + 2 N / max_rate (2 x interval without one: per_poll is 0)
        entry.deadline = now + self._span
        self.polls += 1
        if self._idlers and (fresh or promoted or moving or settled):
            self._poke()  # more is due: another poller may take it
        return entry

    def _wake_at(self, now: float) -> float | None:
        """When the next poll may start, as far as is known now (``None``: when something
        happens)."""
        if self._fresh or self._promoted or self._moving or self._settled:
            if self._rate is not None:
                return (self._tat if self._tat > now else now) - self._burst
            return now
        return None if self._next_due == math.inf else self._next_due

    # --- the timing wheel ------------------------------------------------------------------------

    def _timer(self, entry: _Entry, due: float) -> None:
        """``entry`` waits until ``due``: on the timing wheel, released at ``due`` or up to one
        slot (``interval / 16``) later, never earlier.

        A slot holds the ids of one group due within ``interval / 16`` of each other, in the
        order they were scheduled, and the latest due time among them; it is released whole
        when that time comes, into its group's queue. So nothing is sorted and no id is
        touched between the poll that scheduled it and the one it waits for, however many
        ids are watched (at 100,000 ids reading each one again costs more than the rest).
        """
        entry.state = _WAITING
        wheel = self._wheels[entry.group]
        number = due // self._grain
        slot = wheel.get(number)
        if slot is None:
            self._new_slot(wheel, number, entry, due)
        else:
            slot.entries.append(entry)
            if due > slot.release:
                slot.release = due
                if self._slots[0][2] is slot:
                    self._next_due = due

    def _new_slot(
        self, wheel: dict[float, _Slot], number: float, entry: _Entry, due: float
    ) -> None:
        slot = wheel[number] = _Slot(entry, due)
        slots = self._slots
        heappush(slots, (number, entry.group, slot))
        if slots[0][2] is slot:
            self._next_due = due

    def _fire(self, now: float) -> None:
        """Release every slot whose time has come, in order, into its group's queue."""
        slots, wheels, groups = self._slots, self._wheels, self._groups
        while slots:
            number, group, slot = slots[0]
            if slot.release > now:
                self._next_due = slot.release
                return
            heappop(slots)
            del wheels[group][number]
            groups[group].extend(slot.entries)
        self._next_due = math.inf

    def _enqueue(self, entry: _Entry) -> None:
        """``entry`` is due: into its group's queue. (Never promoted straight away: promotion
        goes in deadline order, see ``_promote``.)"""
        entry.state = _WAITING
        group = entry.group
        if group == _FRESH:
            self._fresh.append(entry)
        elif group == _SETTLED:
            self._settled.append(entry)
        else:  # PROVISIONING, STOPPING, or a status this version does not know
            self._moving.append(entry)

    def _promote(self, now: float) -> None:
        """Move ids whose deadline is near ahead of every group, earliest deadline first.

        The group queues are in the order ids became due, which is their deadlines' order
        give or take the jitter (``0.2 * interval``): promoting that much early keeps every
        deadline, with no heap. A full bucket of tokens more lead than those ahead need
        (``max(1, max_rate) + 1`` polls' time) covers deadlines that crowd closer than one
        token apart (the ids polled in one burst of the bucket) and checking at token times
        only (``_next`` runs when a token may be taken).
        """
        moving, settled, promoted = self._moving, self._settled, self._promoted
        # (Ids never polled go first, then the promoted: both are ahead of the next one.)
        ahead = now + self._lead + len(self._fresh) * self._per_poll
        per_poll = self._per_poll
        while True:
            while moving and moving[0].state != _WAITING:
                moving.popleft()
            while settled and settled[0].state != _WAITING:
                settled.popleft()
            if moving and (not settled or moving[0].deadline <= settled[0].deadline):
                queue = moving
            elif settled:
                queue = settled
            else:
                return
            if ahead + len(promoted) * per_poll < queue[0].deadline:
                return
            promoted.append(queue.popleft())

    def _pick(self) -> _Entry | None:
        for queue in self._queues:
            while queue:
                entry = queue.popleft()
                if entry.state == _WAITING:
                    return entry
        return None

    def _succeeded(self, entry: _Entry, session: Session, started: float) -> None:
        entry.failures = 0
        # (Statuses are compared, hashed and grouped only when they change: an unchanged
        # status was not in `until` before either.)
        if self._any:
            last = entry.last_session()
            changed = last is None or _differ(last, session)
        else:
            changed = entry.status != session.status  # (None before the first change)
        if changed:
            status = session.status
            if status in self._until:
                self._end(entry)
                self._report(entry, session, None, final=True)
                return
            self._report(entry, session, None, final=False)
            entry.group = _SETTLED if status in SETTLED else _MOVING
        self._reschedule(entry, started)

    def _reschedule(self, entry: _Entry, started: float) -> None:
        """After a successful poll: due again ``interval`` (±10%) after it started."""
        # (0.9 to 1.1 x interval with the wheel's lateness: see _timer.)
        due = started + self._soonest + self._jitter * _random()
        if self._rate is not None:  # (keeps the deadline reachable: see the module's notes)
            cap = entry.deadline - self._spread
            if cap < due:
                due = cap
        # (as _timer, inline: the path of every poll; one due already is released by the
        # next _fire)
        entry.state = _WAITING
        wheel = self._wheels[entry.group]
        number = due // self._grain
        slot = wheel.get(number)
        if slot is None:
            self._new_slot(wheel, number, entry, due)
        else:
            slot.entries.append(entry)
            if due > slot.release:
                slot.release = due
                if self._slots[0][2] is slot:
                    self._next_due = due

    def _failed(self, entry: _Entry, exc: Exception) -> None:
        if _is_permanent(exc):
            self._end(entry)
            self._report(entry, None, exc, final=True)
            return
        # Transient (network, throttling, 5xx, timeouts, after the client's retries): not a
        # change; polled again after interval x 1, 2, 4, 8, 8, ...
        entry.failures = min(entry.failures + 1, MAX_BACKOFF.bit_length())
        interval = self._interval
        delay = interval * min(2 ** (entry.failures - 1), MAX_BACKOFF)
        # (±10%, and never above MAX_BACKOFF x interval, with the wheel's lateness: see _timer)
        late = self._grain
        delay = delay * (0.9 + (0.2 - late / interval) * _random())
        delay = min(delay, MAX_BACKOFF * interval - late)
        due = self._clock() + delay
        slack = interval if self._rate is None else 2 * self._spread
        entry.deadline = due + slack
        self._schedule(entry, due)

    def _schedule(self, entry: _Entry, due: float) -> None:
        if due <= self._clock():
            self._enqueue(entry)
        else:
            self._timer(entry, due)

    def _resized(self) -> None:
        """The number of ids watched changed: so did the time the budget takes to poll each."""
        self._spread = len(self._entries) * self._per_poll
        self._span = self._lapse + 2 * self._spread

    def _end(self, entry: _Entry) -> None:
        entry.state = _GONE
        if self._entries.get(entry.id) is entry:
            del self._entries[entry.id]
            self._resized()

    async def _idle(self, now: float) -> None:
        """Wait until the next poll may start (one timer, through the sleep seam, for every
        idle poller) or until something happens (ids added, a change of the queues)."""
        assert self._loop is not None
        self._sync_metrics()
        wake_at = self._wake_at(now)
        if wake_at is not None:
            sleeper = self._sleeper
            if sleeper is not None and (sleeper.done() or self._sleeper_at > wake_at):
                sleeper.cancel()
                sleeper = self._sleeper = None
            if sleeper is None:
                self._sleeper_at = wake_at
                self._sleeper = self._loop.create_task(self._nap(wake_at - now))
        wake = self._loop.create_future()
        self._idlers.append(wake)
        try:
            await wake
        finally:
            if not wake.done():
                wake.cancel()

    async def _nap(self, seconds: float) -> None:
        await self._sleep(max(seconds, 0.0))
        if self._sleeper is asyncio.current_task(self._loop):
            self._sleeper = None
            self._sleeper_at = math.inf
        self._poke()

    def _poke(self, everyone: bool = False) -> None:
        """Wake an idle poller (or every one)."""
        idlers = self._idlers
        while idlers:
            wake = idlers.popleft()
            if not wake.done():
                wake.set_result(None)
                if not everyone:
                    return

    def _notify(self) -> None:
        """Wake the consumer."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        """Stop starting polls; the consumer raises ``exc`` (the first such failure), once."""
        if not self._stopping:
            self._stopping = True
            self._failure = exc
        self._poke(everyone=True)
        self._notify()

    # --- telemetry -------------------------------------------------------------------------------

    def _metrics(self) -> Any:
        instruments = self._instruments
        if instruments is None:
            telemetry = self._telemetry()
            if telemetry is not None:
                instruments = self._instruments = telemetry
        return instruments

    def _sync_metrics(self) -> None:
        """Bring the ``watch.sessions`` up-down counter to the number of ids watched."""
        delta = len(self._entries) - self._reported
        if delta:
            telemetry = self._metrics()
            if telemetry is not None:
                telemetry.instruments.watch_sessions.add(delta, telemetry.metric_attributes)
                self._reported += delta

    def _count_change(self, change: SessionChange) -> None:
        telemetry = self._metrics()
        if telemetry is None:
            return
        attributes = dict(telemetry.metric_attributes)
        if change.status is not None:
            attributes["aioglue_session.session.status"] = str(change.status)
        if change.error is not None:
            attributes["error.type"] = error_code(change.error)
        attributes["aioglue_session.watch.final"] = change.final
        telemetry.instruments.watch_changes.add(1, attributes)
