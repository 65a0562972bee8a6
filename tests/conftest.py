"""Shared fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from faultserver import FaultServer


@pytest.fixture
async def fault_server() -> AsyncIterator[FaultServer]:
    """A started fault-injection server on a free 127.0.0.1 port (see tests/faultserver.py)."""
    async with FaultServer() as server:
        yield server
