"""Shared fixtures and helpers: the fault server, an instant sleep, the leak check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from faultserver import FaultServer

from aioglue_session import GlueSessionClient
from aioglue_session.transport import AiohttpTransport


class InstantSleep:
    """A ``sleep=`` for clients and retriers: records each delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


def assert_no_leaks(glue: GlueSessionClient) -> None:
    """No call still running and no pooled connection still taken."""
    assert glue.calls_in_flight == 0
    transport = glue.transport
    if isinstance(transport, AiohttpTransport):
        assert transport.connections_in_use == 0


@pytest.fixture
def sleep() -> InstantSleep:
    return InstantSleep()


@pytest.fixture
async def fault_server() -> AsyncIterator[FaultServer]:
    """A started fault-injection server on a free 127.0.0.1 port (see tests/faultserver.py)."""
    async with FaultServer() as server:
        yield server
