"""``watch_sessions``: every rule in virtual time (a MockTransport endpoint whose sessions change
on a timeline, the client's ``clock=``/``sleep=`` seams), and a few on the real wire."""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from virtual_time import START, VirtualTime, run_virtual

from aioglue_session import GlueSessionClient, RetryConfig, SessionChange, SessionStatus, errors
from aioglue_session.transport import MockTransport, RawReply, Request

READY, PROVISIONING, STOPPING, STOPPED, FAILED = (
    SessionStatus.READY,
    SessionStatus.PROVISIONING,
    SessionStatus.STOPPING,
    SessionStatus.STOPPED,
    SessionStatus.FAILED,
)


class FakeGlue:
    """GetSession on a timeline: statuses, fields and error replies set by the test; every
    request logged with the virtual time it started at."""

    def __init__(self, time: VirtualTime, **statuses: str) -> None:
        self.time = time
        self.status: dict[str, str] = dict(statuses)
        self.fields: dict[str, dict[str, Any]] = defaultdict(dict)
        self.errors: dict[str, tuple[int, str]] = {}
        self.log: list[tuple[float, str]] = []
        self.latency = 0.0
        self.in_flight = 0
        self.max_in_flight = 0

    async def handler(self, request: Request) -> RawReply:
        session_id = json.loads(request.body)["Id"]
        self.log.append((self.time.now, session_id))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await self.time.sleep(self.latency)
        finally:
            self.in_flight -= 1
        headers = {"x-amzn-RequestId": f"r-{len(self.log)}"}
        if session_id in self.errors:
            status, code = self.errors[session_id]
            body = {"__type": code, "message": f"{code} for {session_id}"}
            return RawReply(status, headers, json.dumps(body).encode())
        if session_id not in self.status:
            body = {"__type": "EntityNotFoundException", "message": f"{session_id} not found"}
            return RawReply(400, headers, json.dumps(body).encode())
        document = {"Id": session_id, "Status": self.status[session_id]}
        document.update(self.fields[session_id])
        return RawReply(200, headers, json.dumps({"Session": document}).encode())

    def polls(self, session_id: str) -> list[float]:
        return [t for t, i in self.log if i == session_id]

    def at(self, delay: float, session_id: str, status: str) -> asyncio.Task[None]:
        """Set ``session_id``'s status ``delay`` virtual seconds from now."""

        async def later() -> None:
            await self.time.sleep(delay)
            self.status[session_id] = status

        return asyncio.get_running_loop().create_task(later())


def client(time: VirtualTime, glue: FakeGlue, **kwargs: Any) -> GlueSessionClient:
    kwargs.setdefault("retry", RetryConfig(max_attempts=1))
    return GlueSessionClient(
        region="us-east-1",
        aws_access_key_id="AKIDWATCHTEST",
        aws_secret_access_key="watch-secret",
        transport=MockTransport(glue.handler),
        clock=time.clock,
        sleep=time.sleep,
        **kwargs,
    )


def virtual(body: Callable[[VirtualTime], Awaitable[None]]) -> None:
    """Run ``body`` in virtual time; afterwards no task may be left but the test's own."""

    async def main(time: VirtualTime) -> None:
        await body(time)
        for _ in range(3):
            await asyncio.sleep(0)
        assert asyncio.all_tasks() == {asyncio.current_task()}

    run_virtual(main)


def changes_of(seen: list[SessionChange]) -> list[tuple[str, Any, Any, bool]]:
    return [(c.id, c.previous, c.status, c.final) for c in seen]


async def until_time(time: VirtualTime, seconds: float) -> None:
    await time.sleep(seconds)


# --- first sight, real changes, the end ----------------------------------------------------------


def test_first_sight_then_only_real_changes_and_final_at_until() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="PROVISIONING", b="READY")
        start = time.now
        seen: list[tuple[float, SessionChange]] = []
        async with client(time, glue) as g:
            glue.at(12, "a", "READY")
            glue.at(30, "a", "STOPPING")
            glue.at(40, "a", "STOPPED")
            glue.at(3600, "b", "FAILED")
            async with g.watch_sessions(["a", "b"], interval=5.0) as watch:
                async for change in watch:
                    seen.append((time.now - start, change))
        assert changes_of([c for _, c in seen]) == [
            ("a", None, PROVISIONING, False),
            ("b", None, READY, False),
            ("a", PROVISIONING, READY, False),
            ("a", READY, STOPPING, False),
            ("a", STOPPING, STOPPED, True),
            ("b", READY, FAILED, True),
        ]
        first = seen[0][1]
        assert first.session is not None and first.session.id == "a"
        assert first.error is None
        # Detected within one interval (+10% jitter) of happening.
        for (at, change), happened in zip(seen[2:], [12, 30, 40, 3600], strict=False):
            assert happened <= at <= happened + 5.5, change
        # An hour of polling READY "b" every ~5 s: hundreds of polls, yet only two changes.
        assert 600 < len(glue.polls("b")) < 800
        assert len(glue.polls("a")) < 12  # and none after its final change

    virtual(body)


def test_each_id_is_polled_at_most_once_per_interval_with_jitter() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="READY")
        async with client(time, glue) as g:
            watch = g.watch_sessions(["a"], interval=10.0)
            async with watch:
                await anext(watch)
                await time.sleep(1000)
        gaps = [b - a for a, b in zip(glue.polls("a"), glue.polls("a")[1:], strict=False)]
        assert len(gaps) >= 90
        assert all(9.0 - 1e-9 <= gap <= 11.0 + 1e-9 for gap in gaps)
        assert len({round(gap, 6) for gap in gaps}) > len(gaps) // 2  # jittered, not in step

    virtual(body)


def test_ids_sharing_the_timing_wheel_keep_their_interval_with_jitter() -> None:
    # 300 ids polled together share the wheel's slots (a slot is released at its latest id's
    # due time): none may be polled before 0.9 x interval, nor after 1.1 x interval.
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, **{f"s{i:03d}": "READY" for i in range(300)})
        glue.latency = 0.01
        async with client(time, glue) as g:
            watch = g.watch_sessions(list(glue.status), interval=10.0, concurrency=64)
            async with watch:
                await time.sleep(500)
        gaps = []
        for session_id in glue.status:
            polls = glue.polls(session_id)
            assert len(polls) >= 45, session_id
            gaps += [b - a for a, b in itertools.pairwise(polls)]
        assert min(gaps) >= 9.0 - 1e-6
        assert max(gaps) <= 11.0 + 1e-6
        # Spread, not in step: the gaps cover the range.
        assert min(gaps) < 9.2 and max(gaps) > 10.3

    virtual(body)


def test_changes_any_yields_when_any_field_differs_status_does_not() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="READY")
        glue.fields["a"]["Description"] = "one"
        result: dict[str, list[SessionChange]] = {}
        async with client(time, glue) as g:

            async def change_description() -> None:
                await time.sleep(7)
                glue.fields["a"]["Description"] = "two"
                await time.sleep(20)
                glue.status["a"] = "STOPPED"

            driver = asyncio.get_running_loop().create_task(change_description())
            for mode in ("any", "status"):
                got = result[mode] = []
                async for change in g.watch_sessions(["a"], interval=2.0, changes=mode):
                    got.append(change)
                glue.fields["a"]["Description"] = "one"
                glue.status["a"] = "READY"
                await driver
                driver = asyncio.get_running_loop().create_task(change_description())
            await driver
        any_mode = result["any"]
        assert [c.session.description for c in any_mode if c.session] == ["one", "two", "two"]
        assert [(c.previous, c.status) for c in any_mode] == [
            (None, READY),
            (READY, READY),  # the same status, another description
            (READY, STOPPED),
        ]
        assert [(c.previous, c.status) for c in result["status"]] == [
            (None, READY),
            (READY, STOPPED),
        ]

    virtual(body)


def test_until_empty_watches_terminal_sessions_until_removed() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="STOPPED")
        async with (
            client(time, glue) as g,
            g.watch_sessions(["a"], interval=1.0, until=()) as watch,
        ):
            change = await anext(watch)
            assert (change.status, change.final) == (STOPPED, False)
            await time.sleep(60)
            assert watch.watching == {"a"}
            polls = len(glue.polls("a"))
            watch.remove("a")
            assert watch.watching == frozenset()
            with pytest.raises(StopAsyncIteration):
                await anext(watch)
            assert polls > 50
            assert len(glue.polls("a")) == polls

    virtual(body)


def test_the_stream_ends_when_nothing_is_watched_and_ids_are_exhausted() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="FAILED")
        async with client(time, glue) as g:
            assert [c async for c in g.watch_sessions([])] == []
            watch = g.watch_sessions(["a", "a"])
            changes = [c async for c in watch]
            assert changes_of(changes) == [("a", None, FAILED, True)]
            assert watch.watching == frozenset()
            with pytest.raises(RuntimeError, match="ended"):
                watch.add("b")
        assert len(glue.log) == 1

    virtual(body)


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "EntityNotFoundException", errors.EntityNotFoundException),
        (400, "AccessDeniedException", errors.AccessDeniedException),
        (400, "InvalidInputException", errors.InvalidInputException),
    ],
)
def test_a_session_gone_or_refused_for_good_is_a_final_error_change(
    status: int, code: str, kind: type[errors.GlueError]
) -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="READY", b="READY")
        async with client(time, glue) as g, g.watch_sessions(["a", "b"], interval=5.0) as watch:
            first = [await anext(watch), await anext(watch)]
            assert {c.id for c in first} == {"a", "b"}
            glue.errors["a"] = (status, code)
            change = await anext(watch)
            assert change.id == "a"
            assert isinstance(change.error, kind) and change.error.code == code
            assert (change.session, change.status, change.previous) == (None, None, READY)
            assert change.final
            assert watch.watching == {"b"}
            polls = len(glue.polls("a"))
            await time.sleep(600)
            assert len(glue.polls("a")) == polls  # dropped: never polled again

    virtual(body)


def test_invalid_ids_are_final_error_changes_and_send_nothing() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="FAILED")
        async with client(time, glue) as g:
            changes = [c async for c in g.watch_sessions(["a", "bad\nid", "", 42])]  # type: ignore[list-item]
        by_id = {c.id: c for c in changes}
        assert set(by_id) == {"a", "bad\nid", "", "42"}
        for session_id in ("bad\nid", "", "42"):
            change = by_id[session_id]
            assert isinstance(change.error, errors.ParamValidationError)
            assert change.final and change.session is None and change.previous is None
        assert [i for _, i in glue.log] == ["a"]

    virtual(body)


def test_transient_failures_back_off_from_interval_capped_at_8x_and_are_not_changes() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="PROVISIONING")
        async with client(time, glue) as g, g.watch_sessions(["a"], interval=2.0) as watch:
            assert (await anext(watch)).status == PROVISIONING
            broke = time.now
            glue.errors["a"] = (503, "ServiceUnavailable")
            glue.at(100, "a", "READY")

            async def heal() -> None:
                await time.sleep(120)
                del glue.errors["a"]

            healer = asyncio.get_running_loop().create_task(heal())
            change = await anext(watch)  # nothing in between: failures are not changes
            await healer
            assert (change.previous, change.status) == (PROVISIONING, READY)
            healed = time.now
            await time.sleep(20)
        polls = glue.polls("a")
        failing = [t for t in polls if broke < t <= broke + 120]
        gaps = [b - a for a, b in itertools.pairwise(failing)]
        # interval x 1, 2, 4, 8, then 8 (each ±10%, never above 8 x interval).
        expected = [2, 4, 8, 16, 16, 16, 16]
        assert len(gaps) >= len(expected)
        for gap, base in zip(gaps, expected, strict=False):
            assert base * 0.9 - 1e-9 <= gap <= min(base * 1.1, 16) + 1e-9, gaps
        assert max(gaps) <= 16 + 1e-9
        assert healed - 16 - 1e-9 <= healed <= broke + 120 + 16 + 1e-9
        # Healthy again: back to every interval.
        after = [b - a for a, b in itertools.pairwise(polls) if a >= healed]
        assert after and all(gap <= 2.2 + 1e-9 for gap in after)

    virtual(body)


def test_a_client_failure_is_raised_once_and_ends_the_watch() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="READY", b="READY")
        glue.latency = 0.5
        g = client(time, glue)
        async with g:
            watch = g.watch_sessions(["a", "b"], interval=1.0)
            await anext(watch)
            await g.close()
            with pytest.raises(errors.ClientClosedError):
                while True:
                    await anext(watch)
            with pytest.raises(StopAsyncIteration):
                await anext(watch)

    virtual(body)


def test_a_client_used_from_another_event_loop_is_raised_once() -> None:
    glue = FakeGlue(VirtualTime(), a="READY")
    g = client(glue.time, glue)
    asyncio.run(g.open())  # (that loop is closed now)

    async def elsewhere() -> None:
        watch = g.watch_sessions(["a"], interval=1.0)
        with pytest.raises(RuntimeError, match="loop"):
            await asyncio.wait_for(anext(watch), 10)  # (not a transient failure, retried)
        with pytest.raises(StopAsyncIteration):
            await anext(watch)
        await g.close()

    asyncio.run(elsewhere())
    assert glue.log == []


def test_a_poll_shed_by_max_waiting_backs_off_and_is_not_a_change() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, **{f"s{i}": "READY" for i in range(4)})
        glue.latency = 1.0
        # One connection, nobody may wait for it: of the polls started together, one goes.
        async with client(time, glue, max_connections=1, max_waiting=0) as g:
            watch = g.watch_sessions(list(glue.status), interval=1.0, concurrency=4)
            async with watch:
                seen = [await anext(watch) for _ in range(4)]
        assert sorted(c.id for c in seen) == ["s0", "s1", "s2", "s3"]
        assert all(c.error is None and c.previous is None for c in seen)

    virtual(body)


# --- a slow consumer -----------------------------------------------------------------------------


def test_a_slow_consumer_gets_one_merged_change_and_never_faster_polls() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="READY")
        async with client(time, glue) as g, g.watch_sessions(["a"], interval=1.0) as watch:
            assert (await anext(watch)).status == READY
            glue.at(10, "a", "STOPPING")
            glue.at(20, "a", "PROVISIONING")
            await time.sleep(60)  # the consumer does not read for a minute
            polled = len(glue.polls("a"))
            change = await anext(watch)
            assert (change.previous, change.status) == (READY, PROVISIONING)
            assert change.session is not None and change.session.status == PROVISIONING
            # Two changes merged into one; nothing else pending.
            glue.at(5, "a", "STOPPED")
            last = await anext(watch)
            assert (last.previous, last.status, last.final) == (PROVISIONING, STOPPED, True)
        assert 55 <= polled <= 68  # one poll per interval (±10%), consumer or not

    virtual(body)


def test_a_pending_change_that_flips_back_before_it_is_read_is_dropped() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="READY")
        async with client(time, glue) as g, g.watch_sessions(["a"], interval=1.0) as watch:
            assert (await anext(watch)).status == READY
            glue.at(10, "a", "STOPPING")
            glue.at(20, "a", "READY")
            glue.at(60, "a", "FAILED")
            await time.sleep(30)
            change = await anext(watch)  # READY -> STOPPING -> READY said nothing
            assert (change.previous, change.status, change.final) == (READY, FAILED, True)

    virtual(body)


# --- ids come and go ------------------------------------------------------------------------------


def test_add_and_remove_while_watching() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="READY", b="READY", c="PROVISIONING")
        async with client(time, glue) as g, g.watch_sessions(["a"], interval=1.0) as watch:
            assert (await anext(watch)).id == "a"
            watch.add("b", "c", "a")
            assert watch.watching == {"a", "b", "c"}
            assert {(await anext(watch)).id, (await anext(watch)).id} == {"b", "c"}
            added = time.now
            glue.status["b"] = "STOPPING"
            watch.remove("b")
            removed = time.now
            glue.at(3, "c", "READY")
            change = await anext(watch)
            assert (change.id, change.status) == ("c", READY)  # nothing of "b"
            assert watch.watching == {"a", "c"}
            await time.sleep(30)
            assert not [t for t in glue.polls("b") if t > removed]
            assert [t for t in glue.polls("b") if t <= added]
            # Re-added after it ended: watched anew, first sight again.
            glue.status["b"] = "FAILED"
            watch.add("b")
            change = await anext(watch)
            assert (change.id, change.previous, change.status, change.final) == (
                "b",
                None,
                FAILED,
                True,
            )
            with pytest.raises(TypeError):
                watch.add(7)  # type: ignore[arg-type]

    virtual(body)


def test_removing_an_id_drops_its_pending_change_and_its_poll_in_flight() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="READY", b="READY")
        async with client(time, glue) as g, g.watch_sessions(["a", "b"], interval=1.0) as watch:
            await anext(watch), await anext(watch)
            glue.status.update(a="STOPPED", b="STOPPING")
            await time.sleep(5)  # both changes are pending now
            watch.remove("a", "b")
            with pytest.raises(StopAsyncIteration):
                await anext(watch)

            glue.latency = 10.0
            async with g.watch_sessions(["a"], interval=1.0) as watch:
                loop = asyncio.get_running_loop()
                reader = loop.create_task(anext(watch))
                await time.sleep(1)  # the first poll is on the wire
                assert g.calls_in_flight == 1
                watch.remove("a")
                with pytest.raises(StopAsyncIteration):
                    await reader
                assert g.calls_in_flight == 0

    virtual(body)


def test_async_iterable_ids_join_as_they_arrive() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, **{f"s{i}": "FAILED" for i in range(5)})
        closed: list[bool] = []
        start = time.now

        async def arriving() -> AsyncIterator[str]:
            try:
                for i in range(5):
                    await time.sleep(100)
                    yield f"s{i}"
            finally:
                closed.append(True)

        async with client(time, glue) as g:
            seen = [(time.now - start, c) async for c in g.watch_sessions(arriving())]
        assert [c.id for _, c in seen] == [f"s{i}" for i in range(5)]
        assert [at for at, _ in seen] == [100.0, 200.0, 300.0, 400.0, 500.0]
        assert closed == [True]

    virtual(body)


def test_an_endless_id_source_keeps_the_watch_open_and_closing_closes_it() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="STOPPED")
        closed: list[bool] = []

        async def endless() -> AsyncIterator[str]:
            try:
                yield "a"
                while True:
                    await time.sleep(3600)
            finally:
                closed.append(True)

        async with client(time, glue) as g:
            watch = g.watch_sessions(endless(), interval=1.0)
            async with watch:
                assert (await anext(watch)).final
                reader = asyncio.get_running_loop().create_task(anext(watch))
                await time.sleep(7200)
                assert not reader.done()  # nothing watched, yet more ids may come
                reader.cancel()
            assert closed == [True]

    virtual(body)


def test_an_id_source_that_fails_raises_out_of_the_iterator() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="READY")

        async def broken() -> AsyncIterator[str]:
            yield "a"
            await time.sleep(5)
            raise OSError("the id feed broke")

        async with client(time, glue) as g:
            watch = g.watch_sessions(broken(), interval=1.0)
            assert (await anext(watch)).id == "a"
            with pytest.raises(OSError, match="feed broke"):
                await anext(watch)

    virtual(body)


# --- leaving: no task behind ---------------------------------------------------------------------


def test_cancelling_the_consumer_stops_every_poll_and_leaves_no_task() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, **{f"s{i}": "READY" for i in range(50)})
        glue.latency = 0.3
        async with client(time, glue) as g:

            async def consume() -> None:
                async for _ in g.watch_sessions(list(glue.status), interval=1.0):
                    pass

            task = asyncio.get_running_loop().create_task(consume())
            await time.sleep(10)
            assert g.calls_in_flight > 0
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert g.calls_in_flight == 0
            polls = len(glue.log)
            await time.sleep(60)
            assert len(glue.log) == polls

    virtual(body)


def test_break_out_of_async_for_stops_every_poll() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="READY", b="READY")
        async with client(time, glue) as g:
            async for _ in g.watch_sessions(["a", "b"], interval=1.0):
                break
            gc.collect()
            for _ in range(3):
                await asyncio.sleep(0)  # the generator's clean-up runs on the loop
            polls = len(glue.log)
            await time.sleep(60)
            assert len(glue.log) == polls

    virtual(body)


def test_aclose_is_idempotent_and_ends_a_waiting_reader() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="READY")
        async with client(time, glue) as g:
            watch = g.watch_sessions(["a"], interval=1.0)
            assert (await anext(watch)).id == "a"
            reader = asyncio.get_running_loop().create_task(anext(watch))
            await time.sleep(3)
            await watch.aclose()
            await watch.aclose()
            with pytest.raises(StopAsyncIteration):
                await reader
            assert watch.watching == frozenset()

    virtual(body)


# --- the budget -----------------------------------------------------------------------------------


def starts_within(times: list[float], window: float) -> int:
    """The most polls that started in any window of ``window`` seconds."""
    most, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - window:
            j += 1
        most = max(most, i - j + 1)
    return most


def test_max_rate_and_concurrency_hold_over_every_window() -> None:
    async def body(time: VirtualTime) -> None:
        statuses = {f"s{i:03d}": "READY" if i % 4 else "PROVISIONING" for i in range(300)}
        glue = FakeGlue(time, **statuses)
        glue.latency = 0.05
        async with (
            client(time, glue) as g,
            g.watch_sessions(statuses, interval=1.0, max_rate=20, concurrency=3),
        ):
            await time.sleep(600)
        times = [t for t, _ in glue.log]
        assert glue.max_in_flight == 3
        # Busy all along: the budget was spent, not left over.
        assert 20 * 600 * 0.95 <= len(times) <= 20 * 600 + 20
        for window in (0.0, 0.05, 0.5, 1.0, 2.5, 10.0, 60.0, 599.0):
            assert starts_within(times, window) <= 20 * window + 20 + 1e-6, window
        # The bucket holds max(1, rate) tokens: in the first instant, 20 polls at most.
        assert starts_within(times, 0.0) <= 20

    virtual(body)


def test_a_fractional_max_rate_holds_one_token() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, **{f"s{i}": "READY" for i in range(10)})
        async with (
            client(time, glue) as g,
            g.watch_sessions(glue.status, interval=1.0, max_rate=0.5),
        ):
            await time.sleep(100)
        times = [t for t, _ in glue.log]
        assert 50 <= len(times) <= 51
        for window in (0.0, 1.0, 2.0, 10.0):
            assert starts_within(times, window) <= 0.5 * window + 1 + 1e-6

    virtual(body)


def test_the_gap_bound_holds_when_transitional_ids_want_more_than_the_budget() -> None:
    # 30 ids PROVISIONING for ever want 30 polls/s; the budget is 20/s. Strict priority would
    # never poll the 270 READY ids again; the deadlines keep each within 2 N / rate + interval.
    async def body(time: VirtualTime) -> None:
        statuses = {f"s{i:03d}": "PROVISIONING" if i < 30 else "READY" for i in range(300)}
        glue = FakeGlue(time, **statuses)
        async with client(time, glue) as g, g.watch_sessions(statuses, interval=1.0, max_rate=20):
            await time.sleep(1200)
        bound = 2 * 300 / 20 + 1.0
        by_id: dict[str, list[float]] = defaultdict(list)
        for t, session_id in glue.log:
            by_id[session_id].append(t)
        worst = {i: max(b - a for a, b in itertools.pairwise(ts)) for i, ts in by_id.items()}
        assert max(worst.values()) <= bound + 1e-6
        assert min(len(ts) for ts in by_id.values()) >= 1200 / bound - 1
        # The budget left over went to the transitional ids: polled several times as often.
        moving = sum(len(by_id[f"s{i:03d}"]) for i in range(30)) / 30
        settled = sum(len(by_id[f"s{i:03d}"]) for i in range(30, 300)) / 270
        assert moving > 5 * settled

    virtual(body)


def test_the_budget_goes_first_to_ids_never_polled_then_transitional_then_the_rest() -> None:
    # 60 READY and 10 PROVISIONING ids at interval 1 want 70 polls/s; the budget is 20/s.
    async def body(time: VirtualTime) -> None:
        statuses = {f"r{i:02d}": "READY" for i in range(60)}
        statuses.update({f"p{i:02d}": "PROVISIONING" for i in range(10)})
        statuses.update({f"n{i:02d}": "READY" for i in range(20)})
        glue = FakeGlue(time, **statuses)
        async with client(time, glue) as g:
            first = [i for i in statuses if not i.startswith("n")]
            async with g.watch_sessions(first, interval=1.0, max_rate=20) as watch:
                await time.sleep(60)
                added = time.now
                watch.add(*[f"n{i:02d}" for i in range(20)])
                await time.sleep(60)
        before = [i for t, i in glue.log if 10 <= t - START < 60]
        after = [i for t, i in glue.log if t >= added]
        # The 20 new ids before anything else (but a few READY ids whose deadline came)...
        first_polls = {i: k for k, i in reversed(list(enumerate(after)))}
        last_new = max(k for i, k in first_polls.items() if i[0] == "n")
        assert last_new < 25
        assert "p" not in {i[0] for i in after[:last_new]}
        # ...and the transitional ids polled every interval, the rest with what is left.
        for log in (before, after[20:]):
            counts = Counter(i[0] for i in log)
            assert counts["p"] / 10 > 4 * counts["r"] / 60
        assert Counter(i[0] for i in before)["p"] >= 10 * 50 * 0.9

    virtual(body)


def test_ids_never_polled_go_first_when_slow_polls_not_max_rate_bind() -> None:
    # 40 READY ids, 2 polls in flight of 1 s each: 2 polls/s, a round of 20 s against an
    # interval of 5 s. max_rate (100/s) never binds, so every polled id is soon past its
    # deadline; an id added later must still be polled next, not after every late one.
    async def body(time: VirtualTime) -> None:
        statuses = {f"r{i:02d}": "READY" for i in range(40)}
        glue = FakeGlue(time, **statuses, new="READY")
        glue.latency = 1.0
        async with (
            client(time, glue) as g,
            g.watch_sessions(list(statuses), interval=5.0, max_rate=100, concurrency=2) as watch,
        ):
            await time.sleep(60)
            added = time.now
            watch.add("new")
            await time.sleep(60)
        assert glue.polls("new"), "never polled"
        first = glue.polls("new")[0]
        # Started by the first poller free after the add (one poll lasts 1 s).
        assert first - added <= 1.0 + 1e-6
        # The 40 watched before kept their turns meanwhile: each polled about every 20 s.
        assert all(len(glue.polls(i)) >= 2 for i in statuses)

    virtual(body)


# --- telemetry ------------------------------------------------------------------------------------


def test_metrics_count_changes_and_sessions_watched_and_each_poll_is_one_span() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    exporter = InMemorySpanExporter()
    tracers = TracerProvider()
    tracers.add_span_processor(SimpleSpanProcessor(exporter))

    def points(name: str) -> list[Any]:
        data = reader.get_metrics_data()
        found: list[Any] = []
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found

    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="READY", b="PROVISIONING", c="READY")
        async with client(time, glue, meter_provider=meters, tracer_provider=tracers) as g:
            async with g.watch_sessions(["a", "b", "c", "gone"], interval=1.0) as watch:
                seen = [await anext(watch) for _ in range(4)]
                [watched] = points("aioglue_session.watch.sessions")
                assert watched.value == 3  # "gone" ended at its first poll
                glue.status["b"] = "STOPPED"
                seen.append(await anext(watch))
                await time.sleep(10)
                [watched] = points("aioglue_session.watch.sessions")
                assert watched.value == 2
            [watched] = points("aioglue_session.watch.sessions")
            assert watched.value == 0
            assert len(exporter.get_finished_spans()) == len(glue.log)  # every span ended
        assert len(seen) == 5
        changes = {
            tuple(
                sorted((k, v) for k, v in p.attributes.items() if k.startswith(("aio", "err")))
            ): p.value
            for p in points("aioglue_session.watch.changes")
        }
        assert sum(changes.values()) == 5
        assert (
            changes[
                (
                    ("aioglue_session.session.status", "READY"),
                    ("aioglue_session.watch.final", False),
                )
            ]
            == 2
        )
        assert (
            changes[
                (("aioglue_session.watch.final", True), ("error.type", "EntityNotFoundException"))
            ]
            == 1
        )
        assert (
            changes[
                (
                    ("aioglue_session.session.status", "STOPPED"),
                    ("aioglue_session.watch.final", True),
                )
            ]
            == 1
        )
        spans = exporter.get_finished_spans()
        assert {s.name for s in spans} == {"Glue.GetSession"}

    try:
        virtual(body)
    finally:
        tracers.shutdown()
        meters.shutdown()


# --- arguments ------------------------------------------------------------------------------------


def test_bad_arguments_are_refused_before_anything_is_sent() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time)
        async with client(time, glue) as g:
            with pytest.raises(TypeError, match="single str"):
                g.watch_sessions("abc")
            with pytest.raises(TypeError, match="iterable"):
                g.watch_sessions(5)  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="until"):
                g.watch_sessions(["a"], until="STOPPED")
            for bad in ({"interval": 0}, {"interval": float("nan")}, {"max_rate": -1}):
                with pytest.raises(ValueError):
                    g.watch_sessions(["a"], **bad)
            with pytest.raises(ValueError, match="concurrency"):
                g.watch_sessions(["a"], concurrency=0)
            with pytest.raises(ValueError, match="changes"):
                g.watch_sessions(["a"], changes="all")  # type: ignore[arg-type]
            with pytest.raises(errors.ParamValidationError):
                g.watch_sessions(["a"], request_origin="bad origin!")
        with pytest.raises(errors.ClientClosedError):
            g.watch_sessions(["a"])
        assert glue.log == []

    virtual(body)


def test_request_origin_goes_with_every_poll() -> None:
    async def body(time: VirtualTime) -> None:
        glue = FakeGlue(time, a="FAILED")
        transport_bodies: list[dict[str, Any]] = []
        handler = glue.handler

        async def recording(request: Request) -> RawReply:
            transport_bodies.append(json.loads(request.body))
            return await handler(request)

        glue.handler = recording  # type: ignore[method-assign]
        async with client(time, glue) as g:
            [change] = [c async for c in g.watch_sessions(["a"], request_origin="bot-1")]
        assert change.final
        assert transport_bodies == [{"Id": "a", "RequestOrigin": "bot-1"}]

    virtual(body)


# --- on the real wire -----------------------------------------------------------------------------


async def test_on_a_local_endpoint_changes_are_seen_and_a_deleted_session_is_final() -> None:
    from aioglue_session.testing import local_glue

    async with local_glue() as server:
        await server.create_sessions(["w-a", "w-b", "w-c"])
        await server.set_status("w-b", "PROVISIONING")
        seen: list[SessionChange] = []
        async with server.client() as glue:
            async with glue.watch_sessions(
                ["w-a", "w-b", "w-c"], interval=0.05, max_rate=200
            ) as watch:
                async for change in watch:
                    seen.append(change)
                    if len(seen) == 3:
                        await server.set_status("w-b", "READY")
                    elif change.id == "w-b" and change.status == READY:
                        await server.delete_session("w-a")
                        await server.set_status("w-c", "STOPPED")
                    elif len(seen) == 6:
                        break  # ("w-b" stays READY: watched until we leave)
            assert glue.calls_in_flight == 0
    assert sorted(changes_of(seen[:3])) == [
        ("w-a", None, READY, False),
        ("w-b", None, PROVISIONING, False),
        ("w-c", None, READY, False),
    ]
    rest = {c.id: c for c in seen[3:]}
    assert (rest["w-b"].previous, rest["w-b"].status) == (PROVISIONING, READY)
    assert isinstance(rest["w-a"].error, errors.EntityNotFoundException) and rest["w-a"].final
    assert (rest["w-c"].previous, rest["w-c"].status, rest["w-c"].final) == (READY, STOPPED, True)
    assert len(seen) == 6


async def test_on_a_local_endpoint_a_client_without_credentials_raises_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import os

    from botocore.exceptions import NoCredentialsError

    from aioglue_session.testing import local_glue

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    (tmp_path / "empty").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    async with local_glue() as server:
        await server.create_sessions(["w-a", "w-b"])
        async with GlueSessionClient(
            endpoint_url=server.endpoint_url, region=server.region
        ) as glue:
            watch = glue.watch_sessions(["w-a", "w-b"], interval=0.05)
            with pytest.raises(NoCredentialsError):
                await anext(watch)
            with pytest.raises(StopAsyncIteration):
                await anext(watch)
            assert glue.calls_in_flight == 0
