"""wait_for_session on an injected clock: instant and deterministic."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aioglue_session import Session, SessionStatus, errors
from aioglue_session.waiter import wait_for_session


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fetcher(statuses: Iterator[str]) -> tuple[list[str], object]:
    calls: list[str] = []

    async def fetch(session_id: str) -> Session:
        calls.append(session_id)
        return Session(id=session_id, status=SessionStatus(next(statuses)))

    return calls, fetch


async def test_provisioning_then_ready_returns() -> None:
    t = FakeTime()
    calls, fetch = fetcher(iter(["PROVISIONING", "PROVISIONING", "READY"]))
    s = await wait_for_session(
        fetch,  # type: ignore[arg-type]
        "s",
        timeout=60,
        poll_interval=5,
        clock=t.clock,
        sleep=t.sleep,
        jitter=lambda: 0.5,
    )
    assert s.status is SessionStatus.READY
    assert calls == ["s", "s", "s"]
    assert t.sleeps == [5.0, 5.0]  # jitter 0.5 -> exactly the interval


async def test_failed_raises_with_last_session() -> None:
    t = FakeTime()
    _, fetch = fetcher(iter(["PROVISIONING", "FAILED"]))
    with pytest.raises(errors.WaiterError) as info:
        await wait_for_session(fetch, "s", clock=t.clock, sleep=t.sleep)  # type: ignore[arg-type]
    assert info.value.last_session is not None
    assert info.value.last_session.status is SessionStatus.FAILED
    assert "FAILED" in info.value.reason


async def test_terminal_status_that_is_wanted_returns() -> None:
    t = FakeTime()
    _, fetch = fetcher(iter(["STOPPING", "STOPPED"]))
    s = await wait_for_session(
        fetch,  # type: ignore[arg-type]
        "s",
        until=("STOPPED",),
        clock=t.clock,
        sleep=t.sleep,
    )
    assert s.status is SessionStatus.STOPPED


async def test_timeout_raises_and_poll_count_matches_interval() -> None:
    t = FakeTime()
    calls, fetch = fetcher(iter(["PROVISIONING"] * 1000))
    with pytest.raises(errors.WaiterError) as info:
        await wait_for_session(
            fetch,  # type: ignore[arg-type]
            "s",
            timeout=30,
            poll_interval=5,
            clock=t.clock,
            sleep=t.sleep,
            jitter=lambda: 0.5,
        )
    assert "timed out" in info.value.reason
    assert info.value.last_session is not None
    assert info.value.last_session.status is SessionStatus.PROVISIONING
    # Polls at t=0,5,...,30: 7 polls, 6 sleeps, never past the deadline.
    assert len(calls) == 7
    assert sum(t.sleeps) == pytest.approx(30)
    assert t.now == pytest.approx(1030)


async def test_jitter_bounds_and_last_sleep_clipped() -> None:
    t = FakeTime()
    _, fetch = fetcher(iter(["PROVISIONING"] * 1000))
    with pytest.raises(errors.WaiterError):
        await wait_for_session(
            fetch,  # type: ignore[arg-type]
            "s",
            timeout=12,
            poll_interval=5,
            clock=t.clock,
            sleep=t.sleep,
            jitter=lambda: 1.0,
        )
    assert t.sleeps[:2] == [pytest.approx(5.5), pytest.approx(5.5)]
    assert t.sleeps[2] == pytest.approx(1.0)  # clipped to the deadline


async def test_errors_from_fetch_propagate() -> None:
    async def fetch(session_id: str) -> Session:
        raise errors.EntityNotFoundException({"Error": {"Code": "EntityNotFoundException"}})

    with pytest.raises(errors.EntityNotFoundException):
        await wait_for_session(fetch, "s")


@pytest.mark.parametrize("kwargs", [{"timeout": 0}, {"poll_interval": -1}, {"until": ()}], ids=str)
async def test_bad_arguments(kwargs: dict[str, object]) -> None:
    async def fetch(session_id: str) -> Session:
        raise AssertionError("must not poll")

    with pytest.raises(ValueError):
        await wait_for_session(fetch, "s", **kwargs)  # type: ignore[arg-type]
