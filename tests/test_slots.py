"""Send slots: at most ``max_connections`` requests built at once, fair, bounded by ``total``."""

from __future__ import annotations

import asyncio

import pytest
from botocore.exceptions import ReadTimeoutError
from faultserver import FaultServer, ok, stall

from aioglue_session import GlueSessionClient, Timeouts
from aioglue_session._slots import Slots


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


async def test_calls_beyond_max_connections_wait_unsigned_and_respect_total(
    fault_server: FaultServer,
) -> None:
    fault_server.script([stall(1.0)])
    async with GlueSessionClient(
        endpoint_url=fault_server.url,
        region="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        max_connections=1,
        timeouts=Timeouts(connect=5, read=5),
    ) as glue:
        fault_server.default = ok()
        stalled = asyncio.create_task(glue.get_session("s-stalled"))  # answered after 1 s
        while fault_server.in_flight < 1:
            await asyncio.sleep(0.01)
        # The one slot is busy: this call waits for it, is never sent, and gives up at `total`.
        glue._timeouts = Timeouts(connect=5, read=5, total=0.3)
        with pytest.raises(ReadTimeoutError) as info:
            await glue.get_session("s-queued")
        assert "waiting for a send slot" in info.value.kwargs["error"]
        assert [r.id for r in fault_server.requests] == ["s-stalled"]
        assert (await stalled).id == "s-stalled"
        assert glue._slots.free == 1 and not glue._slots._waiters
        # The slot is back: a new call goes through.
        assert (await glue.get_session("s-after")).id == "s-after"
