"""Send slots: at most ``max_connections`` requests built at once, fair, bounded by ``total``."""

from __future__ import annotations

import asyncio
import json

import pytest
from botocore.exceptions import ReadTimeoutError

from aioglue_session import GlueSessionClient, Timeouts
from aioglue_session._slots import Slots
from aioglue_session.transport import MockTransport, RawReply, Request


async def test_slots_are_handed_over_first_come_first_served() -> None:
    slots = Slots(1)
    assert slots.try_take()
    order: list[int] = []

    async def waiter(n: int) -> None:
        assert await slots.take()
        order.append(n)
        await asyncio.sleep(0)
        slots.give()

    tasks = [asyncio.create_task(waiter(n)) for n in range(5)]
    await asyncio.sleep(0)
    assert not slots.try_take()  # a freed slot goes to the waiters, not to a newcomer
    slots.give()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
    assert slots.free == 1 and not slots._waiters


async def test_a_waiter_that_times_out_takes_nothing() -> None:
    slots = Slots(1)
    assert slots.try_take()
    assert await slots.take(0.01) is False
    assert not slots._waiters
    slots.give()
    assert slots.free == 1


async def test_a_waiter_cancelled_after_the_handover_passes_the_slot_on() -> None:
    slots = Slots(1)
    assert slots.try_take()
    first = asyncio.create_task(slots.take())
    second = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    slots.give()  # handed to `first`...
    first.cancel()  # ...which is cancelled before it runs: the slot must go to `second`
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second is True
    assert slots.free == 0
    slots.give()
    assert slots.free == 1


async def test_calls_beyond_max_connections_wait_unsigned_and_respect_total() -> None:
    release = asyncio.Event()

    async def handler(request: Request) -> RawReply:
        sid = json.loads(request.body)["Id"]
        if sid == "s-stalled":
            await release.wait()  # holds the one send slot until released
        return RawReply(200, {}, json.dumps({"Session": {"Id": sid}}).encode())

    transport = MockTransport(handler)
    async with GlueSessionClient(
        region="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        max_connections=1,
        timeouts=Timeouts(total=0.3),
        transport=transport,
    ) as glue:
        stalled = asyncio.create_task(glue.get_session("s-stalled"))
        while not transport.requests:
            await asyncio.sleep(0.01)
        # The one slot is busy: this call waits for it, is never sent, and gives up at `total`.
        with pytest.raises(ReadTimeoutError) as info:
            await glue.get_session("s-queued")
        assert "waiting for a send slot" in info.value.kwargs["error"]
        release.set()
        assert (await stalled).id == "s-stalled"
        assert [json.loads(r.body)["Id"] for r in transport.requests] == ["s-stalled"]
        # The slot is back: new calls go through, one at a time.
        got = await asyncio.gather(*(glue.get_session(f"s-after-{i}") for i in range(3)))
        assert [s.id for s in got] == ["s-after-0", "s-after-1", "s-after-2"]
        assert glue.calls_in_flight == 0
