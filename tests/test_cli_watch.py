"""``aioglue-session watch``: on pipes, on stdin as lines arrive, on a terminal, Ctrl-C and the
exit codes, as a subprocess against a local Glue endpoint."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest
from test_cli import (
    _interrupt,
    clean_env,
    endpoint_args,
    no_credentials_env,
    run,
    run_on_terminal,
    screen,
    server,  # noqa: F401  (the fixture)
)

from aioglue_session.testing import LocalGlue

LINE_KEYS = {"Id", "Previous", "Status", "Final"}


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "aioglue_session", "watch", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )


async def read_line(stream: IO[str]) -> dict[str, Any]:
    line = await asyncio.wait_for(asyncio.to_thread(stream.readline), 30)
    assert line, "the command ended before this line"
    result: dict[str, Any] = json.loads(line)
    return result


async def test_watch_prints_a_line_per_change_as_it_happens(server: LocalGlue) -> None:  # noqa: F811
    proc = start(
        "cli-a", "cli-b", "nope", "--until", "ready", "--interval", "0.1", *endpoint_args(server)
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        first = {}
        for _ in range(3):
            line = await read_line(proc.stdout)
            first[line["Id"]] = line
        assert first["cli-b"]["Status"] == "PROVISIONING" and not first["cli-b"]["Final"]
        await asyncio.sleep(0.5)
        assert proc.poll() is None  # still watching cli-b
        await server.set_status("cli-b", "READY")
        last = await read_line(proc.stdout)
        code = await asyncio.to_thread(proc.wait, 30)
        rest = proc.stdout.read()
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
    assert rest == ""
    assert code == 1  # "nope" ended with an error
    async with server.client() as glue:
        a = (await glue.get_session("cli-a")).to_json_dict()
        b = (await glue.get_session("cli-b")).to_json_dict()
    assert first["cli-a"] == {
        "Id": "cli-a",
        "Previous": None,
        "Status": "READY",
        "Final": True,
        "Session": a,
    }
    assert first["nope"]["Error"]["Code"] == "EntityNotFoundException"
    assert set(first["nope"]) == LINE_KEYS | {"Error"} and first["nope"]["Final"] is True
    assert first["nope"]["Status"] is None
    assert last == {
        "Id": "cli-b",
        "Previous": "PROVISIONING",
        "Status": "READY",
        "Final": True,
        "Session": b,
    }


async def test_watch_exits_0_when_every_id_ended_in_until(server: LocalGlue) -> None:  # noqa: F811
    proc = await asyncio.to_thread(
        run, "watch", "cli-a", "cli-c", "--until", "READY,STOPPED", *endpoint_args(server)
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted((line["Id"], line["Status"], line["Final"]) for line in lines) == [
        ("cli-a", "READY", True),
        ("cli-c", "READY", True),
    ]
    assert proc.stderr == ""  # piped: no status line


async def test_watch_reads_ids_from_stdin_as_lines_arrive(server: LocalGlue) -> None:  # noqa: F811
    proc = start("-", "--until", "READY", "--interval", "0.1", *endpoint_args(server))
    assert proc.stdout is not None and proc.stdin is not None
    try:
        proc.stdin.write("cli-a\n")
        proc.stdin.flush()
        assert (await read_line(proc.stdout))["Id"] == "cli-a"  # answered, stdin still open
        await asyncio.sleep(0.3)
        assert proc.poll() is None
        proc.stdin.write("\ncli-c\n")
        proc.stdin.flush()
        assert (await read_line(proc.stdout))["Id"] == "cli-c"
        proc.stdin.close()
        code = await asyncio.to_thread(proc.wait, 30)
    finally:
        proc.kill()
        proc.wait()
    assert code == 0


async def test_watch_query_is_applied_to_each_change_line(server: LocalGlue) -> None:  # noqa: F811
    query = "{id: Id, was: Previous, now: Session.Status, done: Final}"
    proc = await asyncio.to_thread(
        run, "watch", "cli-a", "gone", "--until", "READY", "--query", query, *endpoint_args(server)
    )
    assert proc.returncode == 1
    lines = sorted((json.loads(line) for line in proc.stdout.splitlines()), key=str)
    assert {"id": "cli-a", "was": None, "now": "READY", "done": True} in lines
    [error] = [line for line in lines if "Error" in line]  # left whole
    assert error["Id"] == "gone" and error["Error"]["Code"] == "EntityNotFoundException"


async def test_watch_on_a_terminal_keeps_every_line_whole_and_clears_its_status(
    server: LocalGlue,  # noqa: F811
) -> None:
    ids = ["cli-a", "cli-c", *(f"nope-{i}" for i in range(10))]
    code, raw = await run_on_terminal("watch", *ids, "--until", "READY", *endpoint_args(server))
    assert code == 1
    assert b"watching " in raw  # the one-line status was drawn...
    lines = [line for line in screen(raw) if line]
    records = [json.loads(line) for line in lines]  # ...and never mixed into a line
    assert sorted(r["Id"] for r in records) == sorted(ids)
    assert len(lines) == len(ids)  # and erased at the end


async def test_ctrl_c_during_watch_exits_130(server: LocalGlue) -> None:  # noqa: F811
    args = ["watch", "cli-b", "--until", "READY", "--interval", "0.1", *endpoint_args(server)]
    code, output = await asyncio.to_thread(_interrupt, args, '"Id": "cli-b"')
    assert code == 130
    assert "Traceback" not in output


async def test_watch_without_credentials_is_one_message_and_exit_253(
    server: LocalGlue,  # noqa: F811
    tmp_path: Path,
) -> None:
    ids = "".join(f"id-{i}\n" for i in range(50))
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "aioglue_session", "watch", "-", *endpoint_args(server)],
        input=ids,
        capture_output=True,
        text=True,
        timeout=60,
        env=no_credentials_env(tmp_path),
    )
    assert proc.returncode == 253
    assert proc.stdout == ""
    [message] = proc.stderr.splitlines()
    assert message.startswith("aioglue-session: no credentials")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["watch"], "the following arguments are required: ID"),
        (["watch", "a", "--until", "ready,nope"], "--until must be session statuses"),
        (["watch", "a", "--max-rate", "0"], "--max-rate must be a positive number"),
        (["watch", "a", "--interval", "-1"], "--interval must be a positive number"),
        (["watch", "a", "--changes", "some"], "invalid choice: 'some'"),
    ],
)
def test_watch_usage_errors_exit_2(args: list[str], message: str) -> None:
    proc = run(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
