"""The command line, run as a subprocess against a local Glue endpoint."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from aioglue_session import Session
from aioglue_session.testing import LocalGlue, local_glue

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
async def server() -> AsyncIterator[LocalGlue]:
    async with local_glue() as local:
        await local.create_sessions(["cli-a", "cli-b", "cli-c"], Description="from the cli test")
        await local.set_status("cli-b", "PROVISIONING")
        yield local


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.update(extra)
    return env


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "aioglue_session", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env or clean_env(),
    )


def endpoint_args(server: LocalGlue) -> list[str]:
    return ["--endpoint-url", server.endpoint_url, "--region", server.region]


def parse_lines(stdout: str) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in stdout.splitlines()]
    return {line["Id"]: line for line in lines}


def normalise(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in d.items()}


async def test_get_prints_to_dict_lines(server: LocalGlue) -> None:
    proc = run("get", "cli-a", "cli-b", *endpoint_args(server))
    assert proc.returncode == 0, proc.stderr
    lines = parse_lines(proc.stdout)
    assert set(lines) == {"cli-a", "cli-b"}
    async with server.client() as glue:
        for session_id, line in lines.items():
            expected = (await glue.get_session(session_id)).to_dict()
            assert line == normalise(expected)
            assert Session.from_dict(line).to_dict() == expected  # ISO strings read back
    assert lines["cli-b"]["Status"] == "PROVISIONING"
    assert proc.stderr == ""  # piped: no progress bar


async def test_get_exit_1_when_an_id_fails(server: LocalGlue) -> None:
    proc = run("get", "cli-a", "nope", *endpoint_args(server))
    assert proc.returncode == 1
    lines = parse_lines(proc.stdout)
    assert lines["nope"]["Error"]["Code"] == "EntityNotFoundException"
    assert "nope" in lines["nope"]["Error"]["Message"]
    assert lines["cli-a"]["Status"] == "READY"


async def test_get_reads_ids_from_stdin(server: LocalGlue) -> None:
    proc = run("get", "-", *endpoint_args(server), stdin="cli-a\n\ncli-c\ncli-a\n")
    assert proc.returncode == 0, proc.stderr
    assert sorted(parse_lines(proc.stdout)) == ["cli-a", "cli-c"]
    assert len(proc.stdout.splitlines()) == 2


async def test_wait_returns_when_ready(server: LocalGlue) -> None:
    proc = run("wait", "cli-a", "--until", "READY", "--timeout", "5", *endpoint_args(server))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Status"] == "READY"


async def test_wait_times_out_with_exit_1(server: LocalGlue) -> None:
    proc = run(
        "wait",
        "cli-b",
        "--until",
        "READY",
        "--timeout",
        "0.5",
        "--poll-interval",
        "0.1",
        *endpoint_args(server),
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["Status"] == "PROVISIONING"
    assert "timed out" in proc.stderr


@pytest.mark.parametrize(
    "args",
    [[], ["get"], ["frobnicate"], ["get", "x", "--concurrency", "0"], ["wait"]],
    ids=str,
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    proc = run(*args)
    assert proc.returncode == 2
    assert "usage:" in proc.stderr


def test_no_region_is_a_configuration_error_that_says_how_to_fix_it() -> None:
    proc = run("get", "x", "y", env=clean_env(AWS_CONFIG_FILE="/nonexistent"))
    assert proc.returncode == 253
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "aioglue-session: no region: pass --region or set AWS_REGION (or a region in the profile)"
    ]


def test_demo_prints_its_table() -> None:
    proc = run("demo", "--sessions", "60")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for word in ("READY", "PROVISIONING", "FAILED", "STOPPED", "EntityNotFoundException"):
        assert word in out
    assert "lookups per second" in out
    lookups = next(line for line in out.splitlines() if line.startswith("lookups "))
    assert lookups.split()[-1] == "66"  # 60 sessions + 10% missing ids


@pytest.mark.parametrize(
    ("script", "args", "expect"),
    [
        ("bulk_lookup.py", [], '"Status": "READY"'),
        ("bulk_lookup.py", ["--max-rate", "auto"], '"Status": "READY"'),
        ("watch_bot.py", ["--interval", "0.05"], "STOPPING -> STOPPED"),
        ("web_service.py", ["--self-test"], "reached the endpoint: 1\n"),
    ],
)
def test_examples_run(script: str, args: list[str], expect: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert expect in proc.stdout
    if script == "web_service.py":  # a missing id, and the burst it sheds
        assert "no-such-session -> {'404': 1}" in proc.stdout
        assert "'503 (Retry-After: 1)'" in proc.stdout


async def test_progress_bar_only_on_a_terminal(server: LocalGlue) -> None:
    import pty

    controller, terminal = pty.openpty()
    try:
        proc = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "aioglue_session",
                "get",
                "cli-a",
                "cli-c",
                *endpoint_args(server),
            ],
            stdout=subprocess.PIPE,
            stderr=terminal,
            timeout=60,
            env=clean_env(),
        )
        os.close(terminal)
        terminal = -1
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the terminal side is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(controller)
        if terminal != -1:
            os.close(terminal)
    assert proc.returncode == 0
    bar = b"".join(chunks).decode()
    assert "2/2" in bar and "[" in bar
    assert len(proc.stdout.splitlines()) == 2  # the bar never goes to stdout


# --- helpers for the tests below ------------------------------------------------------------------


def no_credentials_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Nothing in botocore's credential chain: no keys in env, empty files, no IMDS."""
    env = clean_env(**extra)
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    (tmp_path / "config").write_text("")
    (tmp_path / "credentials").write_text("")
    env["AWS_CONFIG_FILE"] = str(tmp_path / "config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "credentials")
    return env


def _run_on_terminal(args: list[str], env: dict[str, str], timeout: float) -> tuple[int, bytes]:
    import pty
    import select
    import time

    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aioglue_session", *args],
            stdin=subprocess.DEVNULL,
            stdout=terminal,  # stdout and stderr on one terminal, as in an interactive shell
            stderr=terminal,
            env=env,
        )
        os.close(terminal)
        terminal = -1
        chunks: list[bytes] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            readable, _, _ = select.select([controller], [], [], 0.5)
            if not readable:
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child has exited and the terminal is drained
                break
            if not chunk:
                break
            chunks.append(chunk)
        else:
            proc.kill()
        return proc.wait(timeout=10), b"".join(chunks)
    finally:
        os.close(controller)
        if terminal != -1:
            os.close(terminal)


async def run_on_terminal(*args: str, env: dict[str, str] | None = None) -> tuple[int, bytes]:
    """Run the CLI with stdout and stderr on one pseudo-terminal; return its exit code and every
    byte the terminal received."""
    return await asyncio.to_thread(_run_on_terminal, list(args), env or clean_env(), 120)


def screen(raw: bytes) -> list[str]:
    """The lines a terminal shows for ``raw``: a minimal emulator of printable characters,
    ``\\r`` (to column 0), ``\\n`` (next line) and ``ESC [ K`` (erase to the end of the line)."""
    text = raw.decode()
    assert "\x1b" not in text.replace("\x1b[K", ""), "an escape sequence the emulator lacks"
    lines: list[str] = []
    line: list[str] = []
    column = 0
    i = 0
    while i < len(text):
        if text.startswith("\x1b[K", i):
            del line[column:]
            i += 3
            continue
        char = text[i]
        i += 1
        if char == "\r":
            column = 0
        elif char == "\n":
            lines.append("".join(line))
            line, column = [], 0
        else:
            if column < len(line):
                line[column] = char
            else:
                line.append(char)
            column += 1
    if line:
        lines.append("".join(line))
    return lines


def test_screen_emulator() -> None:
    assert screen(b"[##  ] 1/2\r\x1b[K{}\r\n[####] 2/2\r\n") == ["{}", "[####] 2/2"]
    assert screen(b"abc\rX") == ["Xbc"]


# --- the progress bar on a terminal ---------------------------------------------------------------

BAR = re.compile(r"\[[# ]{30}\] (\d+)/(\d+) \((\d+) failed\)")


async def test_progress_bar_never_mixes_into_an_output_line_on_a_shared_terminal(
    server: LocalGlue,
) -> None:
    missing = [f"nope-{i:02d}" for i in range(30)]
    ids = ["cli-a", "cli-b", "cli-c", *missing]
    code, raw = await run_on_terminal("get", *ids, *endpoint_args(server))
    assert code == 1
    assert b"\x1b[K" in raw  # the bar was erased before output lines
    lines = [line for line in screen(raw) if line]
    records = [json.loads(line) for line in lines if not BAR.fullmatch(line)]  # intact JSON
    assert sorted(r["Id"] for r in records) == sorted(ids)
    assert {r["Id"] for r in records if "Error" in r} == set(missing)
    # The bar is left, final, on the last line, below every output line.
    assert BAR.fullmatch(lines[-1]) and BAR.fullmatch(lines[-1]).groups() == ("33", "33", "30")  # type: ignore[union-attr]
    assert len(lines) == len(ids) + 1


async def test_no_progress_bar_with_debug_on_a_terminal(server: LocalGlue) -> None:
    code, raw = await run_on_terminal("get", "cli-a", "--debug", *endpoint_args(server))
    assert code == 0
    assert not any(BAR.search(line) for line in screen(raw))
    assert any(" DEBUG " in line for line in screen(raw))


# --- exit codes: configuration errors, once, before any lookup -----------------------------------


async def test_no_credentials_for_200_ids_is_one_message_and_exit_253(
    server: LocalGlue, tmp_path: Path
) -> None:
    ids = "".join(f"id-{i}\n" for i in range(200))
    proc = run("get", "-", *endpoint_args(server), stdin=ids, env=no_credentials_env(tmp_path))
    assert proc.returncode == 253
    assert proc.stdout == ""
    [message] = proc.stderr.splitlines()
    assert message.startswith("aioglue-session: no credentials: set AWS_ACCESS_KEY_ID and ")
    assert "--profile" in message
    assert "Unable to locate credentials" in message


async def test_wait_without_credentials_is_exit_253(server: LocalGlue, tmp_path: Path) -> None:
    proc = run("wait", "cli-a", *endpoint_args(server), env=no_credentials_env(tmp_path))
    assert proc.returncode == 253
    assert proc.stdout == ""
    [message] = proc.stderr.splitlines()
    assert message.startswith("aioglue-session: no credentials: ")


def test_unknown_profile_is_exit_253(tmp_path: Path) -> None:
    proc = run("get", "x", "--profile", "nope", env=no_credentials_env(tmp_path))
    assert proc.returncode == 253
    assert proc.stdout == ""
    [message] = proc.stderr.splitlines()
    assert message.startswith("aioglue-session: profile 'nope' is not in the AWS config files")
    assert "--profile" in message


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["--endpoint-url", "glue.example.com"],
            {},
            "aioglue-session: --endpoint-url must be an absolute http:// or https:// URL "
            "(e.g. https://glue.eu-west-1.amazonaws.com), not 'glue.example.com'",
        ),
        (
            ["--endpoint-url", "ftp://glue.example.com"],
            {},
            "aioglue-session: --endpoint-url must be an absolute http:// or https:// URL "
            "(e.g. https://glue.eu-west-1.amazonaws.com), not 'ftp://glue.example.com'",
        ),
        (["--region", "eu west"], {}, "aioglue-session: --region 'eu west' is not a region name"),
        ([], {"AWS_ENDPOINT_URL": "ftp://glue.example.com"}, "'ftp://glue.example.com'"),
    ],
    ids=["no-scheme", "ftp", "bad-region", "configured-endpoint"],
)
def test_bad_endpoint_or_region_is_exit_253(
    args: list[str], env: dict[str, str], message: str
) -> None:
    proc = run("get", "x", "y", "--region", "us-east-1", *args, env=clean_env(**env))
    assert proc.returncode == 253, proc.stderr
    assert proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert message in line


# --- exit codes: usage errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["get", "x", "--concurrency", "abc"],
            "--concurrency must be a positive integer, not 'abc'",
        ),
        (["get", "x", "--concurrency", "-3"], "--concurrency must be a positive integer, not '-3'"),
        (["get", "x", "--max-attempts", "0"], "--max-attempts must be a positive integer, not '0'"),
        (["get", "x", "--query", "Status["], "--query is not a valid JMESPath expression"),
        (["wait", "x", "--query", "a.."], "--query is not a valid JMESPath expression"),
        (["wait", "x", "--until", "nonsense"], "--until must be session statuses (PROVISIONING, "),
        (["wait", "x", "--until", "ready,"], "not ''"),
        (["wait", "x", "--until", "READY,DONE"], "not 'DONE'"),
        (["wait", "--until", "READY"], "the following arguments are required: ID"),
        (["wait", "x", "--timeout", "0"], "--timeout must be a positive number of seconds"),
        (["wait", "x", "--poll-interval", "nan"], "--poll-interval must be a positive number"),
        (["wait", "x", "--concurrency", "3"], "unrecognized arguments: --concurrency"),
        (["demo", "--region", "eu-west-1"], "unrecognized arguments: --region"),
        (["demo", "--profile", "p"], "unrecognized arguments: --profile"),
        (["demo", "--endpoint-url", "http://x"], "unrecognized arguments: --endpoint-url"),
        (["demo", "--query", "Id"], "unrecognized arguments: --query"),
    ],
    ids=str,
)
def test_usage_errors_name_the_option_and_exit_2(args: list[str], message: str) -> None:
    proc = run(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "usage:" in proc.stderr
    assert message in proc.stderr
    assert "_positive_int" not in proc.stderr and "invalid" not in proc.stderr


def test_options_a_command_ignores_are_not_in_its_help() -> None:
    demo = run("demo", "--help").stdout
    for option in ("--region", "--profile", "--endpoint-url", "--query"):
        assert option not in demo
    assert "moto's, not the client's" in demo
    wait = run("wait", "--help").stdout
    assert "--concurrency" not in wait and "--until" in wait and "--query" in wait
    get = run("get", "--help").stdout
    for option in ("--region", "--profile", "--endpoint-url", "--concurrency", "--query"):
        assert option in get
    assert "taken verbatim, spaces included" in " ".join(get.split())


# --- --version, --debug, --query ------------------------------------------------------------------


def test_version_names_the_package_botocore_aiohttp_and_python() -> None:
    import platform

    import aiohttp
    import botocore

    from aioglue_session import __version__

    proc = run("--version")
    assert proc.returncode == 0
    [line] = proc.stdout.splitlines()
    words = line.split()
    assert words[:4] == [
        f"aioglue-session/{__version__}",
        f"botocore/{botocore.__version__}",
        f"aiohttp/{aiohttp.__version__}",
        f"Python/{platform.python_version()}",
    ]


@pytest.mark.parametrize("where", ["before", "after"])
async def test_debug_logs_each_attempt_to_stderr_and_no_secret(
    server: LocalGlue, where: str
) -> None:
    secret = "wJalrXUtnFEMI-not-a-real-secret-K7MDENG"
    token = "IQoJb3JpZ2luX2VjENT-not-a-real-token"
    env = clean_env(
        AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
        AWS_SECRET_ACCESS_KEY=secret,
        AWS_SESSION_TOKEN=token,
    )
    args = ["get", "cli-a", "nope", *endpoint_args(server)]
    args = ["--debug", *args] if where == "before" else [*args, "--debug"]
    proc = run(*args, env=env)
    assert proc.returncode == 1
    assert len(proc.stdout.splitlines()) == 2  # the log never goes to stdout
    debug = "\n".join(line for line in proc.stderr.splitlines() if " DEBUG " in line)
    assert " aioglue_session.client DEBUG GetSession attempt 1: HTTP 200 OK request_id=" in debug
    assert " aioglue_session.cli DEBUG region us-east-1, endpoint http://127.0.0.1:" in debug
    assert secret not in proc.stderr and token not in proc.stderr
    assert secret[:8] not in proc.stderr and token[:8] not in proc.stderr


async def test_without_debug_nothing_is_logged(server: LocalGlue) -> None:
    proc = run("get", "cli-a", "nope", *endpoint_args(server))
    assert proc.returncode == 1
    assert proc.stderr == ""


async def test_query_is_applied_to_each_session_line(server: LocalGlue) -> None:
    proc = run("get", "cli-a", "cli-b", "nope", "--query", "Status", *endpoint_args(server))
    assert proc.returncode == 1
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(line for line in lines if isinstance(line, str)) == ["PROVISIONING", "READY"]
    [error] = [line for line in lines if isinstance(line, dict)]  # error lines are left whole
    assert error["Id"] == "nope" and error["Error"]["Code"] == "EntityNotFoundException"


async def test_query_multiselect_and_timestamps_as_iso_strings(server: LocalGlue) -> None:
    query = "{id: Id, status: Status, created: CreatedOn, missing: NoSuchField}"
    proc = run("get", "cli-a", "--query", query, *endpoint_args(server))
    assert proc.returncode == 0, proc.stderr
    [line] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert line["id"] == "cli-a" and line["status"] == "READY" and line["missing"] is None
    async with server.client() as glue:
        created = (await glue.get_session("cli-a")).created_on
    assert datetime.fromisoformat(line["created"]) == created


async def test_query_on_wait(server: LocalGlue) -> None:
    proc = run("wait", "cli-a", "--query", "[Id, Status]", *endpoint_args(server))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ["cli-a", "READY"]


# --- wait --until ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "until",
    [
        ["--until", "ready,failed"],
        ["--until", "READY", "--until", "Failed"],
        ["--until", " failed , ready "],
    ],
    ids=["comma", "repeated", "spaces"],
)
async def test_wait_until_several_statuses(server: LocalGlue, until: list[str]) -> None:
    await server.create_session("cli-f")
    await server.set_status("cli-f", "FAILED")
    # FAILED is terminal: without it in --until the waiter would give up (exit 1).
    proc = run("wait", *until, "cli-f", "--timeout", "5", *endpoint_args(server))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Status"] == "FAILED"


async def test_wait_until_before_the_id_does_not_swallow_it(server: LocalGlue) -> None:
    proc = run("wait", "--until", "READY", "cli-a", "--timeout", "5", *endpoint_args(server))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Id"] == "cli-a"


async def test_wait_for_a_status_never_reached_is_exit_1(server: LocalGlue) -> None:
    await server.create_session("cli-f")
    await server.set_status("cli-f", "FAILED")
    proc = run("wait", "cli-f", "--until", "ready", "--timeout", "5", *endpoint_args(server))
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["Status"] == "FAILED"
    assert "reached terminal status FAILED (waiting for READY)" in proc.stderr


async def test_wait_for_a_missing_session_is_an_error_line_and_exit_1(server: LocalGlue) -> None:
    proc = run("wait", "nope", *endpoint_args(server))
    assert proc.returncode == 1
    line = json.loads(proc.stdout)
    assert line["Id"] == "nope" and line["Error"]["Code"] == "EntityNotFoundException"


# --- ids verbatim --------------------------------------------------------------------------------


async def test_ids_are_taken_verbatim_from_arguments_and_stdin(server: LocalGlue) -> None:
    await server.create_sessions(["with space", " padded "])
    proc = run("get", "with space", "-", *endpoint_args(server), stdin=" padded \n\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(parse_lines(proc.stdout)) == [" padded ", "with space"]


# --- Ctrl-C ---------------------------------------------------------------------------------------


def _interrupt(args: list[str], ready: str, *, stdin: str | None = None) -> tuple[int, str]:
    """Start the CLI, wait until stderr (or stdout) shows ``ready``, send SIGINT."""
    import signal
    import threading

    proc = subprocess.Popen(
        [sys.executable, "-m", "aioglue_session", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        # SIGINT as a terminal's foreground process has it: a pytest started in the background
        # of a non-interactive shell (CI jobs run side by side) inherits SIGINT ignored, and a
        # Python started with SIGINT ignored never raises KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    if stdin is not None:
        proc.stdin.write(stdin)
        proc.stdin.flush()  # and left open: more ids could still come
    seen = threading.Event()
    captured: list[str] = []

    def watch(stream: Any) -> None:
        for line in stream:
            captured.append(line)
            if ready in line:
                seen.set()

    watchers = [
        threading.Thread(target=watch, args=(s,), daemon=True) for s in (proc.stdout, proc.stderr)
    ]
    for watcher in watchers:
        watcher.start()
    try:
        assert seen.wait(30), "".join(captured)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
    for watcher in watchers:
        watcher.join(5)
    return code, "".join(captured)


async def test_ctrl_c_during_wait_exits_130(server: LocalGlue) -> None:
    args = ["wait", "cli-b", "--until", "READY", "--poll-interval", "0.2", "--debug"]
    code, output = await asyncio.to_thread(
        _interrupt, [*args, *endpoint_args(server)], "GetSession attempt 1"
    )
    assert code == 130
    assert "Traceback" not in output


async def test_ctrl_c_while_get_waits_for_ids_on_stdin_exits_130(server: LocalGlue) -> None:
    # The first id is answered; then the CLI waits for more ids on a pipe that stays open.
    args = ["get", "-", *endpoint_args(server)]
    code, output = await asyncio.to_thread(_interrupt, args, '"Id": "cli-a"', stdin="cli-a\n")
    assert code == 130
    assert "Traceback" not in output


# --- demo -----------------------------------------------------------------------------------------


async def test_create_sessions_reports_progress() -> None:
    calls: list[tuple[int, int]] = []
    async with local_glue() as local:
        await local.create_sessions(
            (f"p-{i}" for i in range(3)), progress=lambda done, total: calls.append((done, total))
        )
        async with local.client() as glue:
            assert (await glue.get_session("p-2")).id == "p-2"
    assert calls == [(1, 3), (2, 3), (3, 3)]


async def test_demo_shows_creation_progress_on_a_terminal_and_says_whose_speed_it_is() -> None:
    code, raw = await run_on_terminal("demo", "--sessions", "20")
    assert code == 0
    lines = screen(raw)
    assert "[##############################] 20/20 sessions created" in lines
    text = " ".join(" ".join(lines).split())
    assert "The lookups per second above are moto's, not this client's" in text
