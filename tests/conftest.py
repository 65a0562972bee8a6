"""Shared fixtures and helpers (the fault server, an instant sleep, the leak check), the
``long`` marker for the soak, fuzz and benchmark runs, and the event loop the suite runs on.

``pytest --loop uvloop`` (or ``AIOGLUE_TEST_LOOP=uvloop``) runs every async test and fixture on
uvloop's event loop (``pip install -e ".[test,uvloop]"``); the default is asyncio's own. With
pytest-asyncio 1.3 and later the loop comes from its ``pytest_asyncio_loop_factories`` hook, with
older ones from an ``event_loop_policy`` fixture.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from unittest import mock

import botocore.auth
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


@contextmanager
def botocore_time(now: dt.datetime) -> Iterator[None]:
    """botocore's signing clock stopped at ``now``: ``botocore.auth.get_current_datetime()``,
    or in older botocores (1.34) ``datetime.datetime.utcnow()`` as ``botocore.auth`` calls it."""
    if hasattr(botocore.auth, "get_current_datetime"):
        with mock.patch("botocore.auth.get_current_datetime", return_value=now):
            yield
        return

    class Stopped(dt.datetime):
        @classmethod
        def utcnow(cls) -> dt.datetime:
            return now

    with mock.patch.object(botocore.auth, "datetime", SimpleNamespace(datetime=Stopped)):
        yield


@pytest.fixture
def sleep() -> InstantSleep:
    return InstantSleep()


#: Test files that run long (soak, property-based fuzzing, a benchmark end to end): marked
#: ``long`` here, by file, so that ``pytest -m "not long"`` leaves them out.
LONG_RUNNING_FILES = frozenset(
    {
        "test_soak.py",
        "test_protocol_fuzz.py",
        "test_protocol_botocore.py",
        "test_benchmark_smoke.py",
    }
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--loop",
        choices=("asyncio", "uvloop"),
        default=os.environ.get("AIOGLUE_TEST_LOOP") or "asyncio",
        help="the event loop async tests run on (default: $AIOGLUE_TEST_LOOP, else asyncio)",
    )


class UvloopFactories:
    """pytest-asyncio's loop factory hook (1.3 and later): every test on uvloop."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_asyncio_loop_factories(
        self, config: pytest.Config, item: pytest.Item
    ) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
        import uvloop

        return {"uvloop": uvloop.new_event_loop}


class UvloopPolicy:
    """The ``event_loop_policy`` fixture older pytest-asyncios take the loop from."""

    @pytest.fixture(scope="session")
    def event_loop_policy(self) -> asyncio.AbstractEventLoopPolicy:
        import uvloop

        return uvloop.EventLoopPolicy()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "long: soak, fuzz and benchmark runs (leave out with -m 'not long')"
    )
    if config.getoption("loop") == "uvloop":
        import pytest_asyncio.plugin

        if hasattr(pytest_asyncio.plugin, "PytestAsyncioSpecs"):
            config.pluginmanager.register(UvloopFactories(), "aioglue-uvloop")
        else:
            config.pluginmanager.register(UvloopPolicy(), "aioglue-uvloop")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in LONG_RUNNING_FILES:
            item.add_marker(pytest.mark.long)
    if hasattr(config, "workerinput"):
        # A pytest-xdist worker: hand the long runs out first, so that none is left to run alone
        # at the end while the other worker idles.
        items.sort(key=lambda item: item.path.name not in LONG_RUNNING_FILES)


@pytest.fixture
async def fault_server() -> AsyncIterator[FaultServer]:
    """A started fault-injection server on a free 127.0.0.1 port (see tests/faultserver.py)."""
    async with FaultServer() as server:
        yield server
