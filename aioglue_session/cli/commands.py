"""The commands: ``get``, ``wait``, ``watch`` and ``demo``, and the client they share.

Exit codes are the AWS CLI's: 0 all done; 1 some id failed, or the waiter's wanted status was not
reached; 2 a usage error (argparse); 253 a configuration error (no region, no credentials, an
unknown profile, a bad endpoint), reported once before any lookup; 130 interrupted (Ctrl-C);
255 anything else.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import logging
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TextIO
from urllib.parse import urlsplit

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from ..bulk import CLIENT_FAILURES
from ..client import GlueSessionClient
from ..errors import ClientClosedError, WaiterError, error_code
from ..models import SessionStatus
from ..settings import RetryConfig
from .output import Output
from .parser import PROG
from .progress import Progress

__all__ = ["COMMANDS", "ConfigurationError"]

EXIT_OK = 0
EXIT_FAILED = 1  # some id failed, or the waiter's wanted status was not reached
EXIT_USAGE = 2  # argparse's own
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it
EXIT_CONFIG = 253  # the AWS CLI's code for a configuration error
EXIT_ERROR = 255  # anything else (the AWS CLI's catch-all)

log = logging.getLogger("aioglue_session.cli")


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
    progress = Progress(
        sys.stderr,
        total,
        enabled=sys.stderr.isatty() and not args.debug,
        shares_terminal=sys.stdout.isatty(),
    )
    output = Output(sys.stdout, args.query, progress)
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
    output = Output(sys.stdout, args.query)
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


# --- watch ---------------------------------------------------------------------------------------


async def _watch(args: argparse.Namespace) -> int:
    until: list[SessionStatus] = []
    for statuses in args.until or [
        [SessionStatus.FAILED, SessionStatus.TIMEOUT, SessionStatus.STOPPED]
    ]:
        until += [s for s in statuses if s not in until]
    progress = Progress(
        sys.stderr,
        None,
        enabled=sys.stderr.isatty() and not args.debug,
        shares_terminal=sys.stdout.isatty(),
    )
    output = Output(sys.stdout, args.query, progress)
    failed = 0
    changes = 0
    try:
        async with _connect(args) as glue:
            ids = _ids(args.ids, sys.stdin) if "-" in args.ids else args.ids
            watch = glue.watch_sessions(
                ids,
                interval=args.interval,
                until=until,
                max_rate=args.max_rate,
                concurrency=args.concurrency,
                changes=args.changes,
            )
            try:
                async with watch:
                    async for change in watch:
                        output.change(change)
                        changes += 1
                        failed += change.error is not None
                        progress.show(
                            f"watching {len(watch.watching)}, {changes} changes"
                            + (f", {failed} failed" if failed else "")
                        )
            except CLIENT_FAILURES as exc:
                if isinstance(exc, ClientClosedError):
                    raise
                raise _configuration_error(exc) from exc
    finally:
        progress.clear()
    return EXIT_FAILED if failed else EXIT_OK


# --- demo ----------------------------------------------------------------------------------------

_DEMO_STATES = (
    ["READY"] * 6 + ["PROVISIONING"] * 2 + ["STOPPED"] * 2 + ["FAILED", "TIMEOUT", "STOPPING"]
)


async def _demo(args: argparse.Namespace) -> int:
    from ..testing import local_glue

    count = args.sessions
    missing = max(count // 10, 1)
    print("Starting a local Glue endpoint (moto) on 127.0.0.1 ...", flush=True)
    async with local_glue() as server:
        ids = [f"demo-session-{i:04d}" for i in range(count)]
        print(f"Creating {count} sessions on {server.endpoint_url} ...", flush=True)
        progress = Progress(
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


COMMANDS = {"get": _get, "wait": _wait, "watch": _watch, "demo": _demo}
