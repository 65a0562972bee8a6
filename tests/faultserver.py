"""A scripted fault-injection Glue endpoint: a real aiohttp.web server on a free 127.0.0.1 port.

Each request consumes the next scripted action (``srv.script([...])``); when the script is empty
the ``default`` action answers. Everything received is recorded (``srv.requests``), so tests can
assert the exact number of attempts, their headers and signing dates, and the peak concurrency.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import ssl
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

JSON_TYPE = "application/x-amz-json-1.1"
#: Seconds per entry of ``FaultServer.timeline``.
TIMELINE_SLOT = 0.1

Handler = Callable[["FaultServer", web.Request, dict[str, Any]], Awaitable[web.StreamResponse]]


def session_document(session_id: str, status: str = "READY") -> dict[str, Any]:
    """A full, realistic GetSession ``Session`` object."""
    return {
        "Id": session_id,
        "CreatedOn": 1732400000.123,
        "Status": status,
        "ErrorMessage": "",
        "Description": "interactive session for the nightly ETL",
        "Role": "arn:aws:iam::123456789012:role/GlueInteractiveSessionRole",
        "Command": {"Name": "glueetl", "PythonVersion": "3"},
        "DefaultArguments": {
            "--enable-glue-datacatalog": "true",
            "--job-language": "python",
            "--TempDir": "s3://aws-glue-temporary-123456789012-us-east-1/admin",
        },
        "Connections": {"Connections": ["vpc-connection-a"]},
        "Progress": 0.0,
        "MaxCapacity": 5.0,
        "SecurityConfiguration": "default-security",
        "GlueVersion": "4.0",
        "NumberOfWorkers": 5,
        "WorkerType": "G.1X",
        "CompletedOn": 1732403600.5,
        "ExecutionTime": 3600.0,
        "DPUSeconds": 18000.0,
        "IdleTimeout": 60,
        "ProfileName": "default",
        "SessionType": "SPARK_CONNECT",
    }


@dataclass(frozen=True)
class Action:
    """One scripted reply. Build them with the helper functions below."""

    kind: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0
    size: int = 0
    session: dict[str, Any] | None = None
    code: str = ""
    message: str = ""
    header_type: bool = False


def ok(status: str = "READY", session: dict[str, Any] | None = None) -> Action:
    return Action("ok", code=status, session=session)


def error(
    status: int, code: str, message: str = "", *, header_type: bool = False, **headers: str
) -> Action:
    """A JSON 1.1 error; with ``header_type`` the code is only in ``x-amzn-ErrorType``."""
    return Action(
        "error",
        status=status,
        code=code,
        message=message,
        headers=dict(headers),
        header_type=header_type,
    )


def throttle() -> Action:
    return error(400, "ThrottlingException", "Rate exceeded")


def server_error(status: int = 500) -> Action:
    code = "InternalServiceException" if status == 500 else "ServiceUnavailableException"
    return error(status, code, "Internal failure")


def not_found(session_id: str = "") -> Action:
    return error(400, "EntityNotFoundException", f"Session {session_id} not found")


def access_denied() -> Action:
    return error(400, "AccessDeniedException", "User is not authorized to perform glue:GetSession")


def expired_token() -> Action:
    return error(
        400, "ExpiredTokenException", "The security token included in the request is expired"
    )


def skewed(offset_seconds: float, code: str = "InvalidSignatureException") -> Action:
    """A clock-skew refusal with a ``Date`` header ``offset_seconds`` ahead of real time."""
    return Action(
        "skewed",
        status=403 if code != "RequestTimeTooSkewed" else 400,
        code=code,
        seconds=offset_seconds,
    )


def reset_before_headers() -> Action:
    return Action("reset_before")


def reset_after_headers() -> Action:
    return Action("reset_after")


def stall(seconds: float) -> Action:
    return Action("stall", seconds=seconds)


def trickle(pieces: int, gap: float) -> Action:
    """A full reply whose body comes in ``pieces`` writes, ``gap`` seconds apart."""
    return Action("trickle", seconds=gap, size=pieces)


def stall_in_body(seconds: float) -> Action:
    """The headers and the start of the body, then nothing for ``seconds``."""
    return Action("stall_body", seconds=seconds)


def truncated_json() -> Action:
    return Action(
        "raw",
        status=200,
        headers={"Content-Type": JSON_TYPE},
        body=b'{"Session": {"Id": "x", "Crea',
    )


def html_502() -> Action:
    page = (
        b"<html><head><title>502 Bad Gateway</title></head>"
        b"<body><h1>502 Bad Gateway</h1></body></html>"
    )
    return Action("raw", status=502, headers={"Content-Type": "text/html"}, body=page)


def xml_error(status: int, code: str, message: str) -> Action:
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
        f"<Message>{message}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()
    return Action("raw", status=status, headers={"Content-Type": "text/xml"}, body=body)


def raw(status: int, headers: dict[str, str], body: bytes) -> Action:
    return Action("raw", status=status, headers=headers, body=body)


def huge(n_bytes: int) -> Action:
    """A 200 whose body is ``n_bytes`` long, streamed in chunks (never built whole)."""
    return Action("huge", size=n_bytes)


@dataclass
class Received:
    at: float
    method: str
    path: str
    headers: CIMultiDict[str]
    body: bytes
    id: str | None
    amz_date: str | None


class FaultServer:
    def __init__(
        self,
        default: Action | None = None,
        *,
        record: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.default = default or ok()
        self.record = record  # False for long runs: keep counters only, not every request
        self.ssl_context = ssl_context  # serve https (tests/test_tls.py)
        self._script: deque[Action] = deque()
        self.requests: list[Received] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.url = ""
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._limit: tuple[float, float] | None = None
        # A limit that changes over time: [(seconds after _schedule_at, rate)], burst share.
        self._schedule: list[tuple[float, float]] = []
        self._schedule_at = 0.0
        self._burst_share = 0.1
        self._bucket = 0.0
        self._bucket_at = 0.0
        #: With a throttling limit: [accepted, throttled] per TIMELINE_SLOT seconds since it
        #: was set (benchmarks/adaptive.py reads goodput and the throttled share over time).
        self.timeline: dict[int, list[int]] = {}
        self._random: tuple[float, float, random.Random] | None = None
        self._random_more: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
        self.received = 0
        self.faults_by_id: Counter[str] = Counter()
        self.ok_count = 0
        self.throttled_count = 0
        self.reset_count = 0
        self.server_error_count = 0
        self.stall_count = 0
        self.slow_body_count = 0

    # --- scripting --------------------------------------------------------------------------------

    def script(self, actions: Iterable[Action]) -> None:
        self._script.extend(actions)

    def throttle_above(self, rate_per_second: float, burst: float | None = None) -> None:
        """Throttle requests beyond ``rate_per_second`` (a server-side token bucket)."""
        capacity = burst if burst is not None else max(rate_per_second / 10, 1.0)
        self._limit = (rate_per_second, capacity)
        self._schedule = []
        self._bucket, self._bucket_at = capacity, time.monotonic()
        self.timeline = {}
        self._schedule_at = self._bucket_at

    def throttle_schedule(
        self, steps: Iterable[tuple[float, float]], burst_share: float = 0.1
    ) -> None:
        """Throttle above a limit that changes on a schedule: ``steps`` is ``[(seconds from now,
        requests/s), ...]`` (the first from 0); the token bucket holds ``burst_share`` of a
        second's worth (at least 1), as Glue's quotas allow a short burst. Starts a new
        ``timeline``."""
        schedule = sorted((float(t), float(rate)) for t, rate in steps)
        if not schedule or schedule[0][0] != 0.0 or any(r <= 0 for _, r in schedule):
            raise ValueError("a schedule starts at 0 s and has positive rates")
        self._schedule, self._burst_share = schedule, burst_share
        rate = schedule[0][1]
        self._limit = (rate, max(rate * burst_share, 1.0))
        self._bucket, self._bucket_at = self._limit[1], time.monotonic()
        self._schedule_at = self._bucket_at
        self.timeline = {}

    def limit_at(self, seconds: float) -> float | None:
        """The limit ``seconds`` after it was set (``None``: not throttling)."""
        if self._limit is None:
            return None
        rate = self._limit[0]
        for start, step_rate in self._schedule:
            if seconds >= start:
                rate = step_rate
        return rate

    def random_faults(
        self,
        throttle: float = 0.05,
        reset: float = 0.01,
        seed: int = 0,
        *,
        server_error: float = 0.0,
        stall: float = 0.0,
        stall_seconds: float = 1.5,
        slow_body: float = 0.0,
    ) -> None:
        """Answer each request with a fault drawn at random: a throttle, a connection reset
        before the headers, a 500 or 503 (``server_error``), a stall of ``stall_seconds``
        before the headers (``stall``: past a client's read timeout when it is longer), or a
        body sent in five pieces 20 ms apart (``slow_body``: slow, but never idle long)."""
        self._random = (throttle, reset, random.Random(seed))
        self._random_more = (server_error, stall, stall_seconds, slow_body)

    @property
    def count(self) -> int:
        return self.received

    def reset_stats(self) -> None:
        self.requests.clear()
        self.received = 0
        self.faults_by_id.clear()
        self.max_in_flight = self.in_flight
        self.ok_count = self.throttled_count = self.reset_count = 0
        self.server_error_count = self.stall_count = self.slow_body_count = 0

    # --- lifecycle --------------------------------------------------------------------------------

    async def __aenter__(self) -> FaultServer:
        app = web.Application(client_max_size=1024**2)
        app.router.add_get("/__stats", self._stats)
        app.router.add_put("/__limit", self._set_limit)
        app.router.add_get("/__timeline", self._timeline)
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.port = port
        self.url = f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self._handlers):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- handling ---------------------------------------------------------------------------------

    def _next_action(self) -> Action:
        if self._script:
            return self._script.popleft()
        if self._limit is not None:
            now = time.monotonic()
            rate, capacity = self._limit
            if self._schedule:
                scheduled = self.limit_at(now - self._schedule_at)
                if scheduled != rate:
                    assert scheduled is not None
                    rate, capacity = scheduled, max(scheduled * self._burst_share, 1.0)
                    self._limit = (rate, capacity)
            self._bucket = min(capacity, self._bucket + (now - self._bucket_at) * rate)
            self._bucket_at = now
            slot = self.timeline.setdefault(int((now - self._schedule_at) / TIMELINE_SLOT), [0, 0])
            if self._bucket >= 1:
                self._bucket -= 1
                slot[0] += 1
                return self.default
            slot[1] += 1
            return throttle()
        if self._random is not None:
            p_throttle, p_reset, rng = self._random
            roll = rng.random()
            if roll < p_throttle:
                return throttle()
            if roll < p_throttle + p_reset:
                return reset_before_headers()
            p_5xx, p_stall, stall_seconds, p_slow = self._random_more
            roll -= p_throttle + p_reset
            if roll < p_5xx:
                return server_error(500 if roll < p_5xx / 2 else 503)
            if roll < p_5xx + p_stall:
                return stall(stall_seconds)
            if roll < p_5xx + p_stall + p_slow:
                return trickle(5, 0.02)
        return self.default

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _set_limit(self, request: web.Request) -> web.Response:
        """``PUT /__limit`` with ``{"schedule": [[seconds, rate], ...], "burst_share": 0.1}``:
        the separate-process server's ``throttle_schedule`` (counters reset too)."""
        doc = await request.json()
        self.reset_stats()
        self.throttle_schedule(
            [(t, r) for t, r in doc["schedule"]], burst_share=doc.get("burst_share", 0.1)
        )
        return web.json_response({"ok": True})

    async def _timeline(self, request: web.Request) -> web.Response:
        """``GET /__timeline``: ``[[slot start s, limit, accepted, throttled], ...]``."""
        rows = []
        for index in sorted(self.timeline):
            accepted, throttled = self.timeline[index]
            rows.append(
                [index * TIMELINE_SLOT, self.limit_at(index * TIMELINE_SLOT), accepted, throttled]
            )
        return web.json_response(rows)

    def stats(self) -> dict[str, int]:
        return {
            "received": self.received,
            "ok": self.ok_count,
            "throttles": self.throttled_count,
            "resets": self.reset_count,
            "server_errors": self.server_error_count,
            "stalls": self.stall_count,
            "slow_bodies": self.slow_body_count,
            "max_in_flight": self.max_in_flight,
            "ids_faulted": len(self.faults_by_id),
            "most_faults_one_id": max(self.faults_by_id.values(), default=0),
        }

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        body = await request.read()
        try:
            doc = json.loads(body)
            session_id = doc.get("Id") if isinstance(doc, dict) else None
        except ValueError:
            doc, session_id = None, None
        self.received += 1
        if self.record:
            self.requests.append(
                Received(
                    time.monotonic(),
                    request.method,
                    request.path,
                    CIMultiDict(request.headers),
                    body,
                    session_id,
                    request.headers.get("X-Amz-Date"),
                )
            )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            action = self._next_action()
            if action.kind != "ok" and session_id:
                self.faults_by_id[session_id] += 1
            return await self._reply(request, action, session_id or "unknown")
        finally:
            self.in_flight -= 1
            self._handlers.discard(task)

    async def _reply(
        self, request: web.Request, action: Action, session_id: str
    ) -> web.StreamResponse:
        rid = str(uuid.uuid4())
        kind = action.kind
        if kind == "ok":
            self.ok_count += 1
            doc = action.session or session_document(session_id, action.code or "READY")
            return web.Response(
                body=json.dumps({"Session": doc}).encode(),
                content_type=JSON_TYPE,
                headers={"x-amzn-RequestId": rid},
            )
        if kind == "error":
            if action.code == "ThrottlingException":
                self.throttled_count += 1
            if action.status >= 500:
                self.server_error_count += 1
            headers = {"x-amzn-RequestId": rid, **action.headers}
            if action.header_type:
                headers["x-amzn-ErrorType"] = f"{action.code}:http://internal.amazon.com/"
                payload: dict[str, str] = {"message": action.message}
            else:
                payload = {"__type": f"com.amazonaws.glue#{action.code}", "message": action.message}
            return web.Response(
                status=action.status,
                body=json.dumps(payload).encode(),
                content_type=JSON_TYPE,
                headers=headers,
            )
        if kind == "skewed":
            server_now = time.time() + action.seconds
            date = email.utils.formatdate(server_now, usegmt=True)
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(server_now))
            sent = request.headers.get("X-Amz-Date", "?")
            if action.code == "RequestTimeTooSkewed":
                message = (
                    "The difference between the request time and the current time is too large."
                )
            else:
                message = (
                    f"Signature expired: {sent} is now earlier than {stamp} ({stamp} - 5 min.)"
                )
            payload = {"__type": action.code, "message": message}
            return web.Response(
                status=action.status,
                body=json.dumps(payload).encode(),
                content_type=JSON_TYPE,
                headers={"Date": date, "x-amzn-RequestId": rid},
            )
        if kind == "reset_before":
            self.reset_count += 1
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError  # nothing more to send on a dead connection
        if kind == "reset_after":
            self.reset_count += 1
            response = web.StreamResponse(
                status=200, headers={"Content-Type": JSON_TYPE, "Content-Length": "1000"}
            )
            await response.prepare(request)
            await response.write(b'{"Session": {"Id": "')
            await asyncio.sleep(0.01)
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError
        if kind == "stall":
            self.stall_count += 1
            await asyncio.sleep(action.seconds)
            return web.Response(
                body=json.dumps({"Session": session_document(session_id)}).encode(),
                content_type=JSON_TYPE,
            )
        if kind in ("trickle", "stall_body"):
            body = json.dumps({"Session": session_document(session_id)}).encode()
            response = web.StreamResponse(
                status=200,
                headers={
                    "Content-Type": JSON_TYPE,
                    "Content-Length": str(len(body)),
                    "x-amzn-RequestId": rid,
                },
            )
            await response.prepare(request)
            if kind == "stall_body":
                pieces, gap = [body[:20], body[20:]], action.seconds
            else:
                self.slow_body_count += 1
                step = -(-len(body) // action.size)
                pieces = [body[i : i + step] for i in range(0, len(body), step)]
                gap = action.seconds
            for i, piece in enumerate(pieces):
                if i:
                    await asyncio.sleep(gap)
                await response.write(piece)
            await response.write_eof()
            return response
        if kind == "raw":
            return web.Response(
                status=action.status,
                body=action.body,
                headers={"x-amzn-RequestId": rid, **action.headers},
            )
        if kind == "huge":
            response = web.StreamResponse(status=200, headers={"Content-Type": JSON_TYPE})
            response.enable_chunked_encoding()
            await response.prepare(request)
            chunk = b" " * 65536
            sent = 0
            try:
                while sent < action.size:
                    piece = chunk[: min(len(chunk), action.size - sent)]
                    await response.write(piece)
                    sent += len(piece)
                await response.write_eof()
            except (ConnectionError, RuntimeError):
                pass
            return response
        raise AssertionError(f"unknown action {kind}")


async def _serve(
    throttle_share: float, reset_share: float, seed: int, limit: bool, **more: float
) -> None:
    async with FaultServer(record=False) as server:
        if not limit:
            server.random_faults(throttle=throttle_share, reset=reset_share, seed=seed, **more)
        print(server.url, flush=True)
        await asyncio.Event().wait()  # until the parent terminates us


if __name__ == "__main__":
    # A separate-process fault server for long runs (benchmarks/soak.py, benchmarks/adaptive.py):
    # prints its URL on stdout, serves GET /__stats (and with --limit, PUT /__limit to set a
    # throttling schedule and GET /__timeline), and runs until terminated.
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--throttle", type=float, default=0.05)
    parser.add_argument("--reset", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--limit", action="store_true", help="no random faults: a limit set by PUT /__limit"
    )
    parser.add_argument("--server-error", type=float, default=0.0)
    parser.add_argument("--stall", type=float, default=0.0)
    parser.add_argument("--stall-seconds", type=float, default=1.5)
    parser.add_argument("--slow-body", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(
        _serve(
            args.throttle,
            args.reset,
            args.seed,
            args.limit,
            server_error=args.server_error,
            stall=args.stall,
            stall_seconds=args.stall_seconds,
            slow_body=args.slow_body,
        )
    )
