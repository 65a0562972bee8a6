"""The command line, run as a subprocess against a local Glue endpoint."""

from __future__ import annotations

import asyncio
import json
import os
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
        ("watch_bot.py", ["--interval", "0.05"], "STOPPING -> STOPPED"),
        ("web_service.py", ["--self-test"], "404"),
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
