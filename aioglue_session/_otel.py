"""When a client sets its OpenTelemetry up: at open, later, or never.

``telemetry.py`` imports OpenTelemetry, which costs a cold start 5-10 ms: for nothing in an
application that does not use it. So a client opens with one of three answers from
``telemetry_setup``: the ``Telemetry`` class (the application has imported OpenTelemetry, passed a
provider, or names one in the environment), "later" (``opentelemetry-api`` is installed but not
imported yet: a ``PendingTelemetry`` checks at each call whether it is now), or "never" (it is not
installed: nothing is imported and nothing recorded). No provider can be configured without
importing OpenTelemetry, so "later" misses nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Session, SessionStatus
    from .telemetry import Call, Telemetry

__all__ = ["PendingTelemetry", "current_telemetry", "telemetry_class", "telemetry_setup"]

#: OpenTelemetry's variables that configure a global provider (loaded at its first use).
PROVIDER_VARIABLES = ("OTEL_PYTHON_TRACER_PROVIDER", "OTEL_PYTHON_METER_PROVIDER")

# Whether opentelemetry-api was found missing: searched for once per process, not at every open.
_missing = False


def otel_imported() -> bool:
    """Whether the application has imported OpenTelemetry (``None`` in ``sys.modules`` is an
    import blocked on purpose)."""
    return sys.modules.get("opentelemetry") is not None


def telemetry_setup(providers: tuple[Any, Any]) -> type[Telemetry] | bool:
    """At open: the ``Telemetry`` class when telemetry is wanted now; else ``True`` when
    ``opentelemetry-api`` is installed, to set it up once the application imports it, and
    ``False`` when it is not. It may import or search the path for a module: run it off the
    loop."""
    global _missing
    if _missing:
        return False
    wanted = (
        otel_imported()
        or any(provider is not None for provider in providers)
        or any(name in os.environ for name in PROVIDER_VARIABLES)
    )
    if wanted:
        return telemetry_class() or False
    import importlib.util  # (here: `import aioglue_session` does not need it)

    try:
        found = importlib.util.find_spec("opentelemetry") is not None
    except (ImportError, ValueError):  # (ValueError: a module with no __spec__)
        found = False
    if not found:
        _missing = True
    return found


def telemetry_class() -> type[Telemetry] | None:
    """``telemetry.Telemetry``, or ``None`` (nothing recorded, nothing imported) when
    ``opentelemetry-api`` is not installed. It may import."""
    global _missing
    if _missing:
        return None
    try:
        from .telemetry import Telemetry
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("opentelemetry"):
            raise
        _missing = True
        return None
    return Telemetry


class PendingTelemetry:
    """A client's telemetry while OpenTelemetry is installed but was not imported when the
    client opened. Each call checks whether the application has imported it since (one dict
    lookup); once it has, ``activate(telemetry_class())`` has the client put its ``Telemetry``
    (importing ``telemetry.py`` on the loop, once), or nothing if that import fails, in this
    object's place, and the call goes through it."""

    __slots__ = ("_activate",)

    def __init__(self, activate: Callable[[type[Telemetry] | None], Telemetry | None]) -> None:
        self._activate = activate

    def _ready(self) -> Telemetry | None:
        if not otel_imported():
            return None
        return self._activate(telemetry_class())

    def start(self) -> Call | None:
        if sys.modules.get("opentelemetry") is None:  # (otel_imported, inline: once per call)
            return None
        telemetry = self._ready()
        return None if telemetry is None else telemetry.start()

    async def wait(
        self,
        run: Callable[[Callable[[str], Awaitable[Session]]], Awaitable[Session]],
        fetch: Callable[[str], Awaitable[Session]],
        *,
        until: Iterable[SessionStatus | str],
        timeout: float,
    ) -> Session:
        telemetry = self._ready()
        if telemetry is None:
            return await run(fetch)
        return await telemetry.wait(run, fetch, until=until, timeout=timeout)

    def close(self) -> None:
        pass


def current_telemetry(telemetry: Telemetry | PendingTelemetry | None) -> Telemetry | None:
    """A client's ``Telemetry`` now: a ``PendingTelemetry`` is set up if the application has
    imported OpenTelemetry since the client opened (see ``PendingTelemetry``)."""
    if isinstance(telemetry, PendingTelemetry):
        return telemetry._ready()
    return telemetry
