"""The ``aioglue-session`` command line: ``get``, ``wait`` and ``demo``.

Exit codes are the AWS CLI's: 0 all done; 1 some id failed, or the waiter's wanted status was not
reached; 2 a usage error (argparse); 253 a configuration error (no region, no credentials, an
unknown profile, a bad endpoint), reported once before any lookup; 130 interrupted (Ctrl-C);
255 anything else.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import json
import logging
import os
import platform
import re
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import IO, Any, NoReturn, TextIO
from urllib.parse import urlsplit

import botocore
import jmespath  # type: ignore[import-untyped]  # (comes with botocore; ships no type hints)
import jmespath.exceptions  # type: ignore[import-untyped]
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from . import GlueSessionClient, RetryConfig, __version__
from .bulk import CLIENT_FAILURES
from .errors import ClientClosedError, GlueError, WaiterError, error_code
from .models import Session, SessionResult, SessionStatus

__all__ = ["main"]

PROG = "aioglue-session"

EXIT_OK = 0
EXIT_FAILED = 1  # some id failed, or the waiter's wanted status was not reached
EXIT_USAGE = 2  # argparse's own
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it
EXIT_CONFIG = 253  # the AWS CLI's code for a configuration error
EXIT_ERROR = 255  # anything else (the AWS CLI's catch-all)

log = logging.getLogger(__name__)


def _version_of(distribution: str) -> str:
    # (Read from the installed metadata: only the transport module imports aiohttp.)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:  # pragma: no cover - aiohttp is a dependency
        return "unknown"


def version_text() -> str:
    """``--version``: this package and what it runs on, in the AWS CLI's ``name/version`` form."""
    return (
        f"{PROG}/{__version__} botocore/{botocore.__version__} aiohttp/{_version_of('aiohttp')} "
        f"Python/{platform.python_version()} {platform.system()}/{platform.release()}"
    )


# --- output lines ---------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO-8601 strings: what a line shows, so what ``--query`` sees."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def session_line(session: Session) -> str:
    """One output line: the ``to_dict()`` shape with ISO-8601 timestamps."""
    return json.dumps(session.to_dict(), default=_json_default, ensure_ascii=False)


def error_line(session_id: str, error: BaseException) -> str:
    code = error_code(error)
    message = error.message if isinstance(error, GlueError) else str(error)
    return json.dumps(
        {"Id": session_id, "Error": {"Code": code, "Message": message}}, ensure_ascii=False
    )


class _Progress:
    """A progress bar on stderr, drawn only when stderr is a terminal.

    The bar is a line without a newline, redrawn in place with ``\\r``. When stdout is a terminal
    too (usually the same one), an output line written while the bar is showing would start
    right after it, so ``clear`` erases the bar (``\\r`` + erase-to-end-of-line) before each
    output line and ``tick`` draws it again below. Otherwise redraws are throttled to ten a
    second.
    """

    def __init__(
        self,
        stream: IO[str],
        total: int | None,
        *,
        enabled: bool,
        shares_terminal: bool = False,
        label: str = "",
        count_failures: bool = True,
    ) -> None:
        self._stream = stream
        self._total = total
        self._enabled = enabled
        self._clear_before_output = enabled and shares_terminal
        self._label = label
        self._count_failures = count_failures
        self._visible = False
        self._shown = (0, 0)  # (done, failed) as last drawn
        self._last = 0.0
        self.done = 0
        self.failed = 0

    def clear(self) -> None:
        """Erase the bar, if it is showing."""
        if self._visible:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._visible = False

    def write_line(self, out: IO[str], line: str) -> None:
        """Write one output line to ``out`` without mixing it into the bar."""
        if self._clear_before_output:
            self.clear()
        out.write(line + "\n")
        out.flush()

    def tick(self, ok: bool = True, done: int | None = None) -> None:
        self.done = self.done + 1 if done is None else done
        self.failed += not ok
        if not self._enabled:
            return
        now = time.monotonic()
        if not self._visible or now - self._last >= 0.1 or self.done == self._total:
            self._last = now
            self._draw()

    def finish(self) -> None:
        """Leave the final state on screen, on a line of its own."""
        if self._enabled and self.done:
            if not self._visible or self._shown != (self.done, self.failed):
                self._draw()
            self._stream.write("\n")
            self._stream.flush()
            self._visible = False

    def _draw(self) -> None:
        failed = f" ({self.failed} failed)" if self._count_failures else ""
        label = f" {self._label}" if self._label else ""
        if self._total:
            filled = min(30, 30 * self.done // self._total)
            bar = "#" * filled + " " * (30 - filled)
            text = f"\r[{bar}] {self.done}/{self._total}{label}{failed}"
        else:
            text = f"\r{self.done}{label or ' looked up'}{failed}"
        self._stream.write(text + "\x1b[K")
        self._stream.flush()
        self._visible = True
        self._shown = (self.done, self.failed)


class _Output:
    """Output lines on stdout: sessions (through ``--query`` when given) and per-id errors."""

    def __init__(self, out: IO[str], query: Any, progress: _Progress | None = None) -> None:
        self._out = out
        self._query = query
        self._progress = progress

    def session(self, session: Session) -> None:
        if self._query is None:
            self._write(session_line(session))
        else:
            # As the AWS CLI's --query: applied to the object the line would show; what it
            # selects is printed as JSON (``null`` when it selects nothing).
            value = self._query.search(_jsonable(session.to_dict()))
            self._write(json.dumps(value, ensure_ascii=False))

    def error(self, session_id: str, error: BaseException) -> None:
        # Not queried: an error line must still say which id failed and why.
        self._write(error_line(session_id, error))

    def result(self, result: SessionResult) -> None:
        if result.session is not None:
            self.session(result.session)
        else:
            assert result.error is not None
            self.error(result.id, result.error)

    def _write(self, line: str) -> None:
        if self._progress is not None:
            self._progress.write_line(self._out, line)
        else:
            self._out.write(line + "\n")
            self._out.flush()


# --- configuration errors -------------------------------------------------------------------------


class ConfigurationError(Exception):
    """A problem with the configuration rather than with an id: reported once, exit 253."""


def _configuration_error(exc: BaseException) -> ConfigurationError:
    """``exc`` (raised opening the client, or by its first lookup) said so that it can be fixed."""
    if isinstance(exc, NoRegionError):
        text = "no region: pass --region or set AWS_REGION (or a region in the profile)"
    elif isinstance(exc, InvalidRegionError):
        region = exc.kwargs.get("region_name")
        text = f"--region {region!r} is not a region name (e.g. eu-west-1): fix it or AWS_REGION"
    elif isinstance(exc, ProfileNotFound):
        profile = exc.kwargs.get("profile")
        text = (
            f"profile {profile!r} is not in the AWS config files: pass an existing --profile "
            "(see 'aws configure list-profiles') or fix AWS_PROFILE"
        )
    elif isinstance(exc, PartialCredentialsError):
        text = f"incomplete credentials: {exc}"
    elif isinstance(exc, NoCredentialsError):
        text = (
            "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --profile "
            f"with credentials (see 'aws configure'). {exc}"
        )
    elif isinstance(exc, CLIENT_FAILURES):
        text = f"cannot get credentials: {exc}"
    else:
        text = f"configuration: {exc}"
    return ConfigurationError(text)


def _check_endpoint_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"--endpoint-url must be an absolute http:// or https:// URL "
            f"(e.g. https://glue.eu-west-1.amazonaws.com), not {url[:100]!r}"
        )


def _client(args: argparse.Namespace) -> GlueSessionClient:
    retry = None
    if args.retry_mode is not None or args.max_attempts is not None:
        retry = RetryConfig(mode=args.retry_mode, max_attempts=args.max_attempts)
    if args.endpoint_url is not None:
        _check_endpoint_url(args.endpoint_url)
    concurrency: int | None = getattr(args, "concurrency", None)
    return GlueSessionClient(
        region=args.region,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
        retry=retry,
        max_connections=concurrency or 100,
    )


@asynccontextmanager
async def _connect(args: argparse.Namespace) -> AsyncIterator[GlueSessionClient]:
    """An open client; anything that fails while opening it is a configuration error."""
    glue = _client(args)
    try:
        try:
            await glue.open()
        except Exception as exc:  # region, profile, config files, configured endpoint
            raise _configuration_error(exc) from exc
        log.debug("region %s, endpoint %s", glue.region, glue.endpoint_url)
        yield glue
    finally:
        await glue.close()


# --- get -----------------------------------------------------------------------------------------


async def _stdin_lines(stream: TextIO) -> AsyncIterator[str]:
    """Lines of ``stream`` without their line ends, read without blocking the event loop.

    A daemon thread does the blocking reads (a chunk at a time: whatever the pipe or terminal
    has) and never more than a few chunks ahead. It is a daemon rather than a pool thread so that
    Ctrl-C while it waits for input ends the program at once instead of waiting for a line.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's StringIO)
        for line in stream:
            yield line.rstrip("\r\n")
        return
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    room = threading.Semaphore(4)

    def pump() -> None:
        while True:
            room.acquire()
            try:
                data = os.read(fd, 64 * 1024)
            except OSError:
                data = b""
            try:
                loop.call_soon_threadsafe(chunks.put_nowait, data)
            except RuntimeError:  # the loop is closed: nobody is reading any more
                return
            if not data:
                return

    threading.Thread(target=pump, name="aioglue-session stdin", daemon=True).start()
    decoder = codecs.getincrementaldecoder(stream.encoding or "utf-8")(stream.errors or "strict")
    pending = ""
    while True:
        data = await chunks.get()
        room.release()
        text = pending + decoder.decode(data, final=not data)
        *lines, pending = text.split("\n")
        for line in lines:
            yield line.rstrip("\r")
        if not data:
            if pending:
                yield pending.rstrip("\r")
            return


async def _ids(raw: Sequence[str], stdin: TextIO) -> AsyncIterator[str]:
    """The ids as given, verbatim; ``-`` stands for stdin's lines (empty lines skipped)."""
    for item in raw:
        if item == "-":
            async for line in _stdin_lines(stdin):
                if line:
                    yield line
        else:
            yield item


async def _get(args: argparse.Namespace) -> int:
    total = None if "-" in args.ids else len(set(args.ids))
    progress = _Progress(
        sys.stderr,
        total,
        enabled=sys.stderr.isatty() and not args.debug,
        shares_terminal=sys.stdout.isatty(),
    )
    output = _Output(sys.stdout, args.query, progress)
    try:
        async with _connect(args) as glue:
            ids = _ids(args.ids, sys.stdin) if "-" in args.ids else args.ids
            results = glue.get_sessions(ids, concurrency=args.concurrency)
            try:
                async for result in results:
                    output.result(result)
                    progress.tick(result.ok)
            except CLIENT_FAILURES as exc:
                if isinstance(exc, ClientClosedError):
                    raise
                raise _configuration_error(exc) from exc
    except BaseException:
        progress.clear()
        raise
    progress.finish()
    return EXIT_FAILED if progress.failed else EXIT_OK


# --- wait ----------------------------------------------------------------------------------------


async def _wait(args: argparse.Namespace) -> int:
    until: list[SessionStatus] = []
    for statuses in args.until or [[SessionStatus.READY]]:
        until += [s for s in statuses if s not in until]
    output = _Output(sys.stdout, args.query)
    async with _connect(args) as glue:
        try:
            session = await glue.wait_for_session(
                args.id, until=until, timeout=args.timeout, poll_interval=args.poll_interval
            )
        except WaiterError as exc:
            if exc.last_session is not None:
                output.session(exc.last_session)
            print(f"{PROG}: {exc.reason}", file=sys.stderr)
            return EXIT_FAILED
        except CLIENT_FAILURES as exc:
            if isinstance(exc, ClientClosedError):
                raise
            raise _configuration_error(exc) from exc
        except (ClientError, BotoCoreError) as exc:
            # This id's failure (missing, refused, unreachable after retries): an error line.
            output.error(args.id, exc)
            return EXIT_FAILED
    output.session(session)
    return EXIT_OK


# --- demo ----------------------------------------------------------------------------------------

_DEMO_STATES = (
    ["READY"] * 6 + ["PROVISIONING"] * 2 + ["STOPPED"] * 2 + ["FAILED", "TIMEOUT", "STOPPING"]
)


async def _demo(args: argparse.Namespace) -> int:
    from .testing import local_glue

    count = args.sessions
    missing = max(count // 10, 1)
    print("Starting a local Glue endpoint (moto) on 127.0.0.1 ...", flush=True)
    async with local_glue() as server:
        ids = [f"demo-session-{i:04d}" for i in range(count)]
        print(f"Creating {count} sessions on {server.endpoint_url} ...", flush=True)
        progress = _Progress(
            sys.stderr,
            count,
            enabled=sys.stderr.isatty() and not args.debug,
            label="sessions created",
            count_failures=False,
        )
        started = time.perf_counter()
        try:
            await server.create_sessions(
                ids,
                progress=lambda done, _total: progress.tick(done=done),
                Description="demo session",
                DefaultArguments={"--job-language": "python"},
                MaxCapacity=2.0,
                GlueVersion="4.0",
            )
        except BaseException:
            progress.clear()
            raise
        progress.finish()
        for i, session_id in enumerate(ids):
            await server.set_status(session_id, _DEMO_STATES[i % len(_DEMO_STATES)])
        print(f"Created {count} sessions in {time.perf_counter() - started:.1f}s.")
        lookups = ids + [f"missing-session-{i:04d}" for i in range(missing)]
        print(
            f"Looking up {len(lookups)} ids ({missing} do not exist) with concurrency "
            f"{args.concurrency} ...",
            flush=True,
        )
        statuses: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        retry = None
        if args.retry_mode is not None or args.max_attempts is not None:
            retry = RetryConfig(mode=args.retry_mode, max_attempts=args.max_attempts)
        backoffs = 0

        async def counting_sleep(seconds: float) -> None:
            # Every retry the demo can meet (throttles, resets) waits out a backoff first.
            nonlocal backoffs
            backoffs += 1
            await asyncio.sleep(seconds)

        async with server.client(
            retry=retry, max_connections=args.concurrency, sleep=counting_sleep
        ) as glue:
            started = time.perf_counter()
            async for result in glue.get_sessions(lookups, concurrency=args.concurrency):
                if result.session is not None:
                    statuses[str(result.session.status)] += 1
                elif result.error is not None:
                    errors[error_code(result.error)] += 1
            elapsed = time.perf_counter() - started
            retries = backoffs
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
    print()
    print(
        "The lookups per second above are moto's, not this client's: moto is a Python server\n"
        "running in this same process, sharing its CPU with the client. Against a fast endpoint\n"
        "the client does far more (see Performance in the README)."
    )
    ok = total == len(lookups) and errors.get("EntityNotFoundException", 0) == missing
    return EXIT_OK if ok else EXIT_FAILED


# --- arguments -----------------------------------------------------------------------------------

_STATUS_NAMES = ", ".join(s.value for s in SessionStatus)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


def _statuses(text: str) -> list[SessionStatus]:
    """``ready,failed`` -> ``[READY, FAILED]``: session statuses, case-insensitive."""
    statuses = []
    for part in text.split(","):
        try:
            statuses.append(SessionStatus(part.strip().upper()))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be session statuses ({_STATUS_NAMES}), comma-separated or repeated; "
                f"not {part.strip()!r}"
            ) from None
    return statuses


def _query(text: str) -> Any:
    try:
        return jmespath.compile(text)
    except jmespath.exceptions.JMESPathError as exc:
        raise argparse.ArgumentTypeError(f"is not a valid JMESPath expression: {exc}") from None


class _VersionAction(argparse.Action):
    """``--version`` on one line (argparse's own version action wraps it to the terminal)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        print(version_text())
        parser.exit()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse says "argument --concurrency: must be ..."; say "--concurrency must be ...".
        message = re.sub(r"^argument (--[\w-]+): (?=must |is not )", r"\1 ", message)
        super().error(message)


def _parser() -> argparse.ArgumentParser:
    connection = _Parser(add_help=False)
    group = connection.add_argument_group("connection")
    group.add_argument("--region", help="AWS region (default: AWS_REGION, then the profile's)")
    group.add_argument("--profile", help="profile from the shared AWS config files")
    group.add_argument(
        "--endpoint-url", help="Glue endpoint URL (default: AWS_ENDPOINT_URL_GLUE, or by region)"
    )

    retries = _Parser(add_help=False)
    group = retries.add_argument_group("retries")
    group.add_argument(
        "--max-attempts",
        type=_positive_int,
        help="attempts per lookup, the first included (default: AWS_MAX_ATTEMPTS, else 3)",
    )
    group.add_argument(
        "--retry-mode",
        choices=("standard", "adaptive"),
        help="botocore's retry mode (default: AWS_RETRY_MODE, else standard)",
    )

    concurrency = _Parser(add_help=False)
    concurrency.add_argument(
        "--concurrency", type=_positive_int, default=16, help="lookups in flight (default 16)"
    )

    output = _Parser(add_help=False)
    output.add_argument(
        "--query",
        type=_query,
        metavar="EXPR",
        help="JMESPath expression applied to each session line, as the AWS CLI's --query "
        "(error lines are left whole)",
    )

    debug = _Parser(add_help=False)
    # SUPPRESS: given after the command, it must not reset a --debug given before it.
    debug.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="write the library's DEBUG log to stderr",
    )

    parser = _Parser(prog=PROG, description="Look up AWS Glue interactive sessions (GetSession).")
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="print the versions of aioglue-session, botocore, aiohttp and Python, and exit",
    )
    parser.add_argument(
        "--debug", action="store_true", help="write the library's DEBUG log to stderr"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    get = commands.add_parser(
        "get",
        parents=[connection, concurrency, retries, output, debug],
        help="look sessions up; one JSON line per id",
        description="Look sessions up: one JSON line per distinct id on stdout, in completion "
        "order; exit 1 if any id failed. Each ID is taken verbatim, spaces included (Glue ids "
        "may contain spaces): quote it in the shell. '-' reads ids from stdin, one a line, "
        "verbatim (empty lines are skipped).",
    )
    get.add_argument("ids", nargs="+", metavar="ID", help="session ids, verbatim; '-' reads stdin")

    wait = commands.add_parser(
        "wait",
        parents=[connection, retries, output, debug],
        help="wait until a session reaches a status",
        description="Poll one session until its status is one of --until; print it as a JSON "
        "line. Exit 1 when it reaches another terminal status or --timeout passes.",
    )
    wait.add_argument("id", metavar="ID", help="session id, verbatim")
    wait.add_argument(
        "--until",
        type=_statuses,
        action="append",
        metavar="STATUS",
        help=f"wanted status, case-insensitive: {_STATUS_NAMES}; repeat it or separate with "
        "commas (default READY)",
    )
    wait.add_argument(
        "--timeout", type=_positive_seconds, default=600.0, help="seconds (default 600)"
    )
    wait.add_argument(
        "--poll-interval",
        type=_positive_seconds,
        default=5.0,
        help="seconds between polls (default 5)",
    )

    demo = commands.add_parser(
        "demo",
        parents=[concurrency, retries, debug],
        help="look up sessions on an embedded local Glue endpoint (no AWS account)",
        description="Start a local Glue endpoint (moto) on 127.0.0.1, create sessions on it and "
        "look them up in bulk with this client. Needs the 'demo' extra, not an AWS account. "
        "Its speed is moto's, not the client's.",
    )
    demo.add_argument(
        "--sessions", type=_positive_int, default=300, help="sessions to create (default 300)"
    )
    return parser


# --- main ----------------------------------------------------------------------------------------


def _debug_handler() -> logging.Handler:
    """Send the library's log (``aioglue_session`` and its children) to stderr at DEBUG."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    library = logging.getLogger("aioglue_session")
    library.addHandler(handler)
    library.setLevel(logging.DEBUG)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)  # exits 2 on a usage error, 0 after --help / --version
    handler = _debug_handler() if args.debug else None
    if handler is not None:
        log.debug("%s", version_text())
        log.debug("arguments: %s", sys.argv[1:] if argv is None else list(argv))
    command = {"get": _get, "wait": _wait, "demo": _demo}[args.command]
    try:
        return asyncio.run(command(args))
    except ConfigurationError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        if handler is not None:
            traceback.print_exc()
        print(f"{PROG}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if handler is not None:
            logging.getLogger("aioglue_session").removeHandler(handler)
