"""The command line's arguments: the commands, their options, and how values are checked."""

from __future__ import annotations

import argparse
import platform
import re
from collections.abc import Sequence
from typing import Any, NoReturn

import botocore
import jmespath  # type: ignore[import-untyped]  # (comes with botocore; ships no type hints)
import jmespath.exceptions  # type: ignore[import-untyped]

from .._version import __version__
from ..models import SessionStatus

__all__ = ["PROG", "build_parser", "version_text"]

PROG = "aioglue-session"


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


def _positive_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number per second, not {text!r}")
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


def build_parser() -> argparse.ArgumentParser:
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

    watch = commands.add_parser(
        "watch",
        parents=[connection, concurrency, retries, output, debug],
        help="watch sessions; one JSON line per change, as it happens",
        description="Watch sessions and print one JSON line per change as it happens: "
        '{"Id", "Previous", "Status", "Final", "Session"} (or "Error" in place of "Session"). '
        "The first line of an id has Previous null; an id is no longer watched after a line "
        "with Final true (its status is one of --until, or it is gone or refused). '-' reads "
        "ids from stdin as lines arrive (tail -f ids | aioglue-session watch -). Exit 0 when "
        "every id ended in --until, 1 when any ended with an error.",
    )
    watch.add_argument(
        "ids", nargs="+", metavar="ID", help="session ids, verbatim; '-' reads stdin"
    )
    watch.add_argument(
        "--interval",
        type=_positive_seconds,
        default=5.0,
        help="seconds between two polls of one id (default 5)",
    )
    watch.add_argument(
        "--max-rate",
        type=_positive_rate,
        metavar="N",
        help="polls per second at most, for the whole watch (default: no cap)",
    )
    watch.add_argument(
        "--until",
        type=_statuses,
        action="append",
        metavar="STATUS",
        help=f"statuses that end an id's watch, case-insensitive: {_STATUS_NAMES}; repeat it "
        "or separate with commas (default FAILED,TIMEOUT,STOPPED)",
    )
    watch.add_argument(
        "--changes",
        choices=("status", "any"),
        default="status",
        help="a line when the status changes (default), or when any field does",
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
