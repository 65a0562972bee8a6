"""Test helpers for your own tests: ``mock_glue()`` (no network) and ``local_glue()`` (a local
endpoint), and the pytest fixtures ``glue_mock`` and ``glue_local`` that wrap them.

``mock_glue()`` answers the client's requests in memory, as Glue would (``EntityNotFoundException``
for an id it does not know); it needs nothing beyond this package:

```python
from aioglue_session.testing import mock_glue

async with mock_glue() as glue_mock:
    glue_mock.add_session("my-session", status="READY")
    session = await glue_mock.client.get_session("my-session")
```

``local_glue()`` runs a real AWS-compatible server (moto, from the ``demo`` extra) on a free
127.0.0.1 port, in this process, and stops it on exit:

```python
from aioglue_session.testing import local_glue

async with local_glue() as glue_server:
    await glue_server.create_session("my-session")
    async with glue_server.client() as glue:
        print(await glue.get_session("my-session"))
```

Starting and stopping the server, and creating sessions on it, run in worker threads so the event
loop never blocks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .client import GlueSessionClient
    from .models import SessionStatus
    from .transport import MockTransport, RawReply, Request

__all__ = ["LocalGlue", "MockGlue", "local_glue", "mock_glue"]

_MISSING_MOTO = "aioglue_session.testing needs moto's server: pip install 'aioglue-session[demo]'"

DEFAULT_ROLE = "arn:aws:iam::123456789012:role/GlueInteractiveSessionRole"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@attrs.define
class LocalGlue:
    """A running local Glue endpoint, as ``local_glue()`` yields it."""

    endpoint_url: str
    """The endpoint's URL, ``http://127.0.0.1:<port>``."""
    region: str
    """The region its sessions live in."""
    aws_access_key_id: str = "testing"
    """A key id the endpoint accepts."""
    aws_secret_access_key: str = attrs.field(default="testing", repr=False)
    """The secret key that goes with it."""
    _boto: Any = attrs.field(default=None, repr=False)
    _account_id: str = "123456789012"

    def client(self, **kwargs: Any) -> GlueSessionClient:
        """A ``GlueSessionClient`` pointed at this endpoint, with its region and test keys (use
        it with ``async with``). Any client argument in ``kwargs`` is added or overrides those:
        ``server.client(retry=RetryConfig(max_attempts=1))``."""
        from .client import GlueSessionClient

        kwargs.setdefault("endpoint_url", self.endpoint_url)
        kwargs.setdefault("region", self.region)
        kwargs.setdefault("aws_access_key_id", self.aws_access_key_id)
        kwargs.setdefault("aws_secret_access_key", self.aws_secret_access_key)
        return GlueSessionClient(**kwargs)

    def _glue(self) -> Any:
        if self._boto is None:
            import botocore.session

            self._boto = botocore.session.get_session().create_client(
                "glue",
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                aws_access_key_id=self.aws_access_key_id,
                aws_secret_access_key=self.aws_secret_access_key,
            )
        return self._boto

    async def create_session(self, session_id: str, **params: Any) -> None:
        """Glue's ``CreateSession`` on the local endpoint. ``params`` are Glue's PascalCase
        fields (``Description``, ``DefaultArguments``, ``GlueVersion``, ``MaxCapacity``...);
        ``Role`` and ``Command`` have defaults. The session is ``READY`` at once."""
        params.setdefault("Role", DEFAULT_ROLE)
        params.setdefault("Command", {"Name": "glueetl", "PythonVersion": "3"})
        await asyncio.to_thread(self._glue().create_session, Id=session_id, **params)

    async def create_sessions(
        self,
        session_ids: Iterable[str],
        *,
        progress: Callable[[int, int], object] | None = None,
        **params: Any,
    ) -> None:
        """``create_session`` for each id, one after the other, with the same ``params``.
        ``progress(done, total)``, when given, is called on the event loop after each session
        is created."""
        ids = list(session_ids)
        for done, session_id in enumerate(ids, 1):
            await self.create_session(session_id, **params)
            if progress is not None:
                progress(done, len(ids))

    async def stop_session(self, session_id: str) -> None:
        """Glue's ``StopSession``: moto puts the session in ``STOPPING`` (``set_status`` moves
        it on)."""
        await asyncio.to_thread(self._glue().stop_session, Id=session_id)

    async def delete_session(self, session_id: str) -> None:
        """Glue's ``DeleteSession``: a lookup of it then raises ``EntityNotFoundException``."""
        await asyncio.to_thread(self._glue().delete_session, Id=session_id)

    async def set_status(self, session_id: str, status: str) -> None:
        """Put a session in any status (``"PROVISIONING"``, ``"FAILED"``, or one Glue does not
        have yet), which lookups then report: moto's own sessions are ``READY`` from creation
        until stopped."""
        from moto.glue.models import glue_backends

        backend = glue_backends[self._account_id][self.region]
        backend.sessions[session_id].state = str(status)


@asynccontextmanager
async def local_glue(region: str = "us-east-1") -> AsyncIterator[LocalGlue]:
    """Start a moto Glue endpoint on a free loopback port; yield a
    [``LocalGlue``][aioglue_session.testing.LocalGlue].

    Needs the ``demo`` extra (``pip install "aioglue-session[demo]"``); without it, an
    ``ImportError`` saying so. Sessions live in moto's process-wide state and are cleared on
    exit, so each ``async with`` starts empty.
    """
    try:
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(_MISSING_MOTO) from exc
    # The server's per-request access log would drown a demo's output.
    access_log = logging.getLogger("werkzeug")
    previous_level = access_log.level
    access_log.setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    await asyncio.to_thread(server.start)
    local = LocalGlue(
        endpoint_url=f"http://127.0.0.1:{port}", region=region, account_id=DEFAULT_ACCOUNT_ID
    )
    try:
        yield local
    finally:
        # Sessions live in moto's process-wide backend: clear ours so the next server starts empty.
        try:
            from moto.glue.models import glue_backends

            glue_backends[DEFAULT_ACCOUNT_ID][region].sessions.clear()
        except (ImportError, KeyError):  # pragma: no cover
            pass
        if local._boto is not None:
            local._boto.close()
        await asyncio.to_thread(server.stop)
        access_log.setLevel(previous_level)


# --- mock_glue(): Glue answered in memory ------------------------------------------------------

#: The keys a ``mock_glue()`` client signs with.
MOCK_ACCESS_KEY_ID = "AKIDMOCKGLUE00000000"
MOCK_SECRET_ACCESS_KEY = "mock-glue-secret"
_JSON_1_1 = "application/x-amz-json-1.1"


async def _no_wait(seconds: float) -> None:
    """A ``sleep=`` for backoffs that take no time (it still lets other tasks run)."""
    await asyncio.sleep(0)


class MockGlue:
    """Glue's ``GetSession``, answered in memory, as ``mock_glue()`` yields it.

    Sessions are added with ``add_session``; a lookup of an id never added gets
    ``EntityNotFoundException``, as Glue answers. Replies go through a real
    [``MockTransport``][aioglue_session.transport.MockTransport] with Glue's JSON shapes, so the
    client validates, signs, retries and parses them exactly as on the wire.
    """

    def __init__(self, client: GlueSessionClient, transport: MockTransport) -> None:
        self.client = client
        """An open ``GlueSessionClient`` answered by this mock (test keys, a region, backoff
        sleeps that take no time)."""
        self._transport = transport
        self._sessions: dict[str, dict[str, Any]] = {}
        self._errors: dict[str, tuple[int, str, str]] = {}

    @property
    def requests(self) -> list[Request]:
        """Every [``Request``][aioglue_session.transport.Request] the client sent, in order
        (retries included)."""
        return self._transport.requests

    def add_session(self, session_id: str, **fields: Any) -> None:
        """Add (or replace) a session. ``fields`` are ``Session`` attribute names:
        ``status="READY"``, ``role="arn:..."``, ``created_on=datetime(...)``,
        ``command=SessionCommand("glueetl", "3")``, ``connections=["vpc"]``...; the ones not
        given are absent from the reply (``None`` on the ``Session``). An unknown name is a
        ``TypeError``; a value of the wrong type a ``TypeError`` or ``ValueError``."""
        from .models import Session

        session = Session(session_id, **fields)
        document = session.to_dict()
        # Glue's wire form: timestamps as epoch seconds.
        for name, value in document.items():
            if isinstance(value, datetime):
                document[name] = value.timestamp()
        json_text = json.dumps(document)
        Session.from_dict(json.loads(json_text))  # a value of the wrong type fails here, not later
        self._sessions[session_id] = document

    def set_status(self, session_id: str, status: SessionStatus | str) -> None:
        """Put an added session in ``status`` (a ``SessionStatus``, or any string: one this
        version does not know is passed through, as Glue would send it). ``KeyError`` for an
        id never added."""
        if session_id not in self._sessions:
            raise KeyError(f"no session {session_id!r} in this mock: add_session() it first")
        self._sessions[session_id]["Status"] = getattr(status, "value", status)

    def add_error(self, session_id: str, code: str, message: str = "", status: int = 400) -> None:
        """Answer every lookup of ``session_id`` with this error reply, in Glue's JSON shape
        (``"ThrottlingException"`` and 5xx statuses are retried by the client, as on the
        wire)."""
        self._errors[session_id] = (status, code, message)

    def _answer(self, request: Request) -> RawReply:
        from .transport import RawReply

        session_id = json.loads(request.body)["Id"]
        headers = {"x-amzn-RequestId": str(uuid.uuid4()), "Content-Type": _JSON_1_1}
        error = self._errors.get(session_id)
        if error is None and session_id not in self._sessions:
            error = (400, "EntityNotFoundException", f"Session {session_id} not found.")
        if error is not None:
            status, code, message = error
            body = {"__type": f"com.amazonaws.glue#{code}", "message": message}
            return RawReply(status, headers, json.dumps(body).encode())
        return RawReply(200, headers, json.dumps({"Session": self._sessions[session_id]}).encode())


@asynccontextmanager
async def mock_glue(**client_kwargs: Any) -> AsyncIterator[MockGlue]:
    """A [``MockGlue``][aioglue_session.testing.MockGlue] with an open client; the client is
    closed on exit. Needs no network, no moto and no pytest.

    ``client_kwargs`` are added to (or override) the client's arguments:
    ``mock_glue(retry=RetryConfig(max_attempts=1))``.
    """
    from .client import GlueSessionClient
    from .transport import MockTransport

    mock: MockGlue | None = None

    def answer(request: Request) -> RawReply:
        assert mock is not None
        return mock._answer(request)

    transport = MockTransport(answer)
    client_kwargs.setdefault("region", "us-east-1")
    client_kwargs.setdefault("aws_access_key_id", MOCK_ACCESS_KEY_ID)
    client_kwargs.setdefault("aws_secret_access_key", MOCK_SECRET_ACCESS_KEY)
    client_kwargs.setdefault("sleep", _no_wait)
    client_kwargs["transport"] = transport
    async with GlueSessionClient(**client_kwargs) as client:
        mock = MockGlue(client, transport)
        yield mock
