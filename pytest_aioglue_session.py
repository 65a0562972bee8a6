"""The pytest plugin of aioglue-session: the ``glue_mock`` and ``glue_local`` fixtures.

pytest loads it through the package's ``pytest11`` entry point, so a suite gets the fixtures by
installing the package (disable it with ``-p no:aioglue_session``). It is a module of its own,
outside the ``aioglue_session`` package, so that loading it imports nothing but pytest and
pytest-asyncio: the client, aiohttp, moto and OpenTelemetry are imported when a test asks for a
fixture, not at pytest's start-up.

* ``glue_mock``: a ``MockGlue`` from ``aioglue_session.testing.mock_glue()``, closed after the
  test.
* ``glue_local``: the ``LocalGlue`` of ``aioglue_session.testing.local_glue()`` (a moto server
  on a free 127.0.0.1 port), stopped after the test; skipped when moto is not installed.

Both are async fixtures: they need pytest-asyncio, as async tests do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from aioglue_session.testing import LocalGlue, MockGlue

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - depends on the install
    pytest_asyncio = None  # type: ignore[assignment]

MISSING_DEMO = (
    "glue_local needs moto's server, from the demo extra: pip install 'aioglue-session[demo]'"
)
MISSING_ASYNCIO = "{name} is an async fixture: it needs pytest-asyncio (pip install pytest-asyncio)"


def _async_fixture(function: Callable[..., Any]) -> Any:
    """``function`` as pytest-asyncio's fixture (it works in its strict mode too); without
    pytest-asyncio, a fixture that fails the test saying so."""
    if pytest_asyncio is not None:
        return pytest_asyncio.fixture(function)

    def needs_pytest_asyncio() -> None:  # pragma: no cover - depends on the install
        pytest.fail(MISSING_ASYNCIO.format(name=function.__name__), pytrace=False)

    needs_pytest_asyncio.__name__ = function.__name__
    needs_pytest_asyncio.__doc__ = function.__doc__
    return pytest.fixture(name=function.__name__)(needs_pytest_asyncio)


@_async_fixture
async def glue_mock() -> AsyncIterator[MockGlue]:
    """A ``MockGlue``: ``glue_mock.client`` is an open client answered in memory;
    ``add_session``, ``set_status``, ``add_error`` script the replies and ``requests`` lists
    what was sent. Closed after the test."""
    from aioglue_session.testing import mock_glue

    async with mock_glue() as mock:
        yield mock


@_async_fixture
async def glue_local() -> AsyncIterator[LocalGlue]:
    """A local Glue endpoint (moto's server) for the test: ``create_session``, ``set_status``,
    and ``async with glue_local.client() as glue``. Skipped when moto is not installed."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        pytest.skip(MISSING_DEMO)
    from aioglue_session.testing import local_glue

    async with local_glue() as server:
        yield server
