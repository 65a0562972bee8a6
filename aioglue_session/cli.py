"""The ``aioglue-session`` command line: ``get``, ``wait`` and ``demo``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime
from typing import IO, Any

from .client import GlueSessionClient
from .errors import GlueError, WaiterError
from .models import Session, SessionResult, SessionStatus
from .settings import RetryConfig

__all__ = ["main"]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def session_line(session: Session) -> str:
    """One output line: the ``to_dict()`` shape with ISO-8601 timestamps."""
    return json.dumps(session.to_dict(), default=_json_default, ensure_ascii=False)


def error_line(session_id: str, error: BaseException) -> str:
    code = error.code if isinstance(error, GlueError) else type(error).__name__
    message = error.message if isinstance(error, GlueError) else str(error)
    return json.dumps(
        {"Id": session_id, "Error": {"Code": code, "Message": message}}, ensure_ascii=False
    )


# --- arguments -----------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--region", help="AWS region (default: AWS_REGION / profile)")
    common.add_argument("--profile", help="profile from the shared AWS config files")
    common.add_argument("--endpoint-url", help="Glue endpoint URL (default: resolved by region)")
    common.add_argument(
        "--concurrency", type=_positive_int, default=16, help="lookups in flight (default 16)"
    )
    common.add_argument(
        "--max-attempts", type=_positive_int, help="attempts per call, the first included"
    )
    common.add_argument("--retry-mode", choices=("standard", "adaptive"), help="retry mode")

    parser = argparse.ArgumentParser(
        prog="aioglue-session", description="Look up AWS Glue interactive sessions (GetSession)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    get = commands.add_parser(
        "get", parents=[common], help="look sessions up; one JSON line per id"
    )
    get.add_argument("ids", nargs="+", metavar="ID", help="session ids; '-' reads stdin")
    wait = commands.add_parser(
        "wait", parents=[common], help="wait until a session reaches a status"
    )
    wait.add_argument("id", metavar="ID")
    wait.add_argument(
        "--until",
        nargs="+",
        action="extend",
        metavar="STATUS",
        help="wanted status(es), e.g. READY (default READY)",
    )
    wait.add_argument("--timeout", type=_positive_float, default=600.0, help="seconds (600)")
    wait.add_argument(
        "--poll-interval", type=_positive_float, default=5.0, help="seconds between polls (5)"
    )
    demo = commands.add_parser(
        "demo", parents=[common], help="look up sessions on an embedded local Glue endpoint"
    )
    demo.add_argument(
        "--sessions", type=_positive_int, default=300, help="sessions to create (300)"
    )
    return parser


def _client(args: argparse.Namespace, **overrides: Any) -> GlueSessionClient:
    retry = None
    if args.retry_mode is not None or args.max_attempts is not None:
        retry = RetryConfig(mode=args.retry_mode, max_attempts=args.max_attempts)
    kwargs: dict[str, Any] = {
        "region": args.region,
        "profile": args.profile,
        "endpoint_url": args.endpoint_url,
        "retry": retry,
        "max_connections": max(args.concurrency, 1),
    }
    kwargs.update(overrides)
    return GlueSessionClient(**kwargs)


# --- get -----------------------------------------------------------------------------------------


def _ids(raw: Sequence[str], stdin: IO[str]) -> Iterator[str]:
    for item in raw:
        if item == "-":
            for line in stdin:
                line = line.rstrip("\r\n")
                if line.strip():
                    yield line
        else:
            yield item


class _Progress:
    """``\\r[####    ] n/N`` on stderr, only when stderr is a terminal."""

    def __init__(self, stream: IO[str], total: int | None) -> None:
        self._stream = stream
        self._total = total
        self._enabled = stream.isatty()
        self._last = 0.0
        self.done = 0
        self.failed = 0

    def tick(self, ok: bool) -> None:
        self.done += 1
        self.failed += not ok
        now = time.monotonic()
        if self._enabled and (now - self._last > 0.1 or self.done == self._total):
            self._last = now
            if self._total:
                filled = int(30 * self.done / self._total)
                bar = "#" * filled + " " * (30 - filled)
                text = f"\r[{bar}] {self.done}/{self._total} ({self.failed} failed)"
            else:
                text = f"\r{self.done} looked up ({self.failed} failed)"
            self._stream.write(text)
            self._stream.flush()

    def finish(self) -> None:
        if self._enabled and self.done:
            self._stream.write("\n")
            self._stream.flush()


async def _get(args: argparse.Namespace) -> int:
    reads_stdin = "-" in args.ids
    total = None if reads_stdin else len(set(args.ids))
    progress = _Progress(sys.stderr, total)
    out = sys.stdout
    async with _client(args) as glue:
        results: AsyncIterator[SessionResult] = glue.get_sessions(
            _ids(args.ids, sys.stdin), concurrency=args.concurrency
        )
        async for result in results:
            if result.session is not None:
                out.write(session_line(result.session) + "\n")
            else:
                assert result.error is not None
                out.write(error_line(result.id, result.error) + "\n")
            out.flush()
            progress.tick(result.ok)
    progress.finish()
    return 1 if progress.failed else 0


# --- wait ----------------------------------------------------------------------------------------


def _status(text: str) -> SessionStatus | str:
    try:
        return SessionStatus(text.upper())
    except ValueError:
        return text


async def _wait(args: argparse.Namespace) -> int:
    until = tuple(_status(s) for s in (args.until or ["READY"]))
    async with _client(args) as glue:
        try:
            session = await glue.wait_for_session(
                args.id, until=until, timeout=args.timeout, poll_interval=args.poll_interval
            )
        except WaiterError as exc:
            if exc.last_session is not None:
                print(session_line(exc.last_session))
            print(f"aioglue-session: {exc.reason}", file=sys.stderr)
            return 1
        except GlueError as exc:
            print(error_line(args.id, exc))
            return 1
    print(session_line(session))
    return 0


# --- demo ----------------------------------------------------------------------------------------

_DEMO_STATES = (
    ["READY"] * 6 + ["PROVISIONING"] * 2 + ["STOPPED"] * 2 + ["FAILED", "TIMEOUT", "STOPPING"]
)


async def _demo(args: argparse.Namespace) -> int:
    from .testing import local_glue

    count = args.sessions
    missing = max(count // 10, 1)
    print(f"Starting a local Glue endpoint (moto) on 127.0.0.1 and creating {count} sessions ...")
    async with local_glue() as server:
        ids = [f"demo-session-{i:04d}" for i in range(count)]
        for i, session_id in enumerate(ids):
            await server.create_session(
                session_id,
                Description=f"demo session {i}",
                DefaultArguments={"--job-language": "python"},
                MaxCapacity=2.0,
                GlueVersion="4.0",
            )
            await server.set_status(session_id, _DEMO_STATES[i % len(_DEMO_STATES)])
        lookups = ids + [f"missing-session-{i:04d}" for i in range(missing)]
        print(
            f"Endpoint {server.endpoint_url}: looking up {len(lookups)} ids ({missing} do not "
            f"exist) with concurrency {args.concurrency} ..."
        )
        statuses: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        async with server.client(
            retry=RetryConfig(mode=args.retry_mode, max_attempts=args.max_attempts)
            if args.retry_mode or args.max_attempts
            else None,
            max_connections=args.concurrency,
        ) as glue:
            started = time.perf_counter()
            async for result in glue.get_sessions(lookups, concurrency=args.concurrency):
                if result.session is not None:
                    statuses[str(result.session.status)] += 1
                else:
                    error = result.error
                    code = error.code if isinstance(error, GlueError) else type(error).__name__
                    errors[code] += 1
            elapsed = time.perf_counter() - started
            retries = glue._retrier.retries if glue._retrier is not None else 0
    total = sum(statuses.values()) + sum(errors.values())
    print()
    width = 32
    print(f"{'status':<{width}}{'sessions':>10}")
    print("-" * (width + 10))
    for status, n in sorted(statuses.items()):
        print(f"{status:<{width}}{n:>10}")
    for code, n in sorted(errors.items()):
        print(f"{'error: ' + code:<{width}}{n:>10}")
    print("-" * (width + 10))
    print(f"{'lookups':<{width}}{total:>10}")
    print(f"{'elapsed (s)':<{width}}{elapsed:>10.2f}")
    print(f"{'lookups per second':<{width}}{total / elapsed:>10.0f}")
    print(f"{'retries':<{width}}{retries:>10}")
    ok = total == len(lookups) and errors.get("EntityNotFoundException", 0) == missing
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"get": _get, "wait": _wait, "demo": _demo}[args.command]
    try:
        return asyncio.run(handler(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # configuration errors: no region, no credentials, bad profile
        print(f"aioglue-session: {exc}", file=sys.stderr)
        return 1
