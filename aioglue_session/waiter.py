"""``wait_for_session``: poll a session until it reaches a wanted status.

boto3 has no waiter for Glue sessions; this is the reference. The clock, the sleep and the jitter
source are parameters, so tests run instantly and deterministically.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .errors import WaiterError
from .models import TERMINAL_STATUSES, Session, SessionStatus

__all__ = ["wait_for_session"]


def _status_text(status: SessionStatus | str | None) -> str | None:
    if isinstance(status, SessionStatus):
        return status.value
    return status


async def wait_for_session(
    fetch: Callable[[str], Awaitable[Session]],
    session_id: str,
    *,
    until: Iterable[SessionStatus | str] = (SessionStatus.READY,),
    timeout: float = 600.0,
    poll_interval: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    jitter: Callable[[], float] = random.random,
) -> Session:
    """Poll ``fetch(session_id)`` until its status is in ``until``.

    Raises ``errors.WaiterError`` when the session reaches a terminal status (FAILED, TIMEOUT,
    STOPPED) not in ``until``, or when ``timeout`` seconds pass. Each interval is
    ``poll_interval`` ±10% (jitter, so many waiters do not poll in step); the last sleep is cut
    short so that the final poll happens at the deadline, not after it. Errors from ``fetch``
    (a missing session, say) propagate.
    """
    wanted = {_status_text(s) for s in until}
    if not wanted:
        raise ValueError("until must name at least one status")
    if not timeout > 0:
        raise ValueError("timeout must be positive")
    if not poll_interval > 0:
        raise ValueError("poll_interval must be positive")
    deadline = clock() + timeout
    polls = 0
    while True:
        session = await fetch(session_id)
        polls += 1
        status = _status_text(session.status)
        if status in wanted:
            return session
        if status in TERMINAL_STATUSES:
            raise WaiterError(
                f"session {session_id!r} reached terminal status {status} "
                f"(waiting for {', '.join(sorted(str(w) for w in wanted))})",
                session,
            )
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaiterError(
                f"timed out after {timeout:g}s and {polls} polls waiting for session "
                f"{session_id!r}; last status {status}",
                session,
            )
        interval = poll_interval * (0.9 + 0.2 * jitter())
        await sleep(min(interval, remaining))
