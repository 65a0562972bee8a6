"""The testing helpers users get: ``mock_glue()`` / ``MockGlue``, and the pytest plugin's
``glue_mock`` and ``glue_local`` fixtures (loaded here too: the package is installed).

The plugin is checked from the outside as well, in subprocesses: the entry point pytest finds,
what loading it imports (nothing but itself), the fixtures in a suite of a user's in
pytest-asyncio's strict mode, and ``mock_glue()`` in a script without pytest.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import HeadersDict
from botocore.exceptions import ClientError
from botocore.parsers import create_parser

import pytest_aioglue_session
from aioglue_session import RetryConfig, SessionCommand, SessionStatus, errors
from aioglue_session.testing import LocalGlue, MockGlue, mock_glue
from aioglue_session.transport import MockTransport

CREATED = datetime(2026, 11, 25, 12, 0, 0, 250000, tzinfo=timezone.utc)


# --- MockGlue through the glue_mock fixture -----------------------------------------------------


async def test_an_added_session_is_returned_with_the_fields_given(glue_mock: MockGlue) -> None:
    glue_mock.add_session(
        "etl-1",
        status="READY",
        role="arn:aws:iam::123456789012:role/Glue",
        created_on=CREATED,
        command=SessionCommand("glueetl", "3"),
        default_arguments={"--job-language": "python"},
        connections=["vpc-a"],
        max_capacity=5.0,
        number_of_workers=5,
    )
    session = await glue_mock.client.get_session("etl-1")
    assert session.id == "etl-1"
    assert session.status is SessionStatus.READY
    assert session.role == "arn:aws:iam::123456789012:role/Glue"
    assert session.created_on == CREATED
    assert session.command == SessionCommand("glueetl", "3")
    assert session.default_arguments == {"--job-language": "python"}
    assert session.connections == ("vpc-a",)
    assert (session.max_capacity, session.number_of_workers) == (5.0, 5)
    # Unspecified fields are absent from the reply, not sent as null or empty.
    assert session.description is None and session.glue_version is None
    [request] = glue_mock.requests
    assert json.loads(request.body) == {"Id": "etl-1"}
    assert request.headers["X-Amz-Target"] == "AWSGlue.GetSession"
    assert request.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    wire = json.loads(glue_mock._answer(request).body or b"")["Session"]
    assert set(wire) == {
        "Id", "Status", "Role", "CreatedOn", "Command", "DefaultArguments", "Connections",
        "MaxCapacity", "NumberOfWorkers",
    }  # fmt: skip
    assert wire["CreatedOn"] == CREATED.timestamp()  # epoch seconds, as Glue sends them
    assert wire["Connections"] == {"Connections": ["vpc-a"]}


async def test_an_unknown_id_is_entity_not_found_as_glue_answers(glue_mock: MockGlue) -> None:
    with pytest.raises(errors.EntityNotFoundException) as info:
        await glue_mock.client.get_session("nope")
    err = info.value
    assert isinstance(err, ClientError)
    assert err.code == "EntityNotFoundException"
    assert err.message == "Session nope not found."
    assert err.status_code == 400
    assert err.request_id and len(err.request_id) == 36
    assert err.retry_attempts == 0
    assert len(glue_mock.requests) == 1


@pytest.mark.parametrize(
    ("code", "status", "kind", "sent"),
    [
        ("ThrottlingException", 400, errors.ThrottlingException, 3),
        ("InternalServiceException", 500, errors.InternalServiceException, 3),
        ("AccessDeniedException", 400, errors.AccessDeniedException, 1),
        ("SomeNewException", 400, errors.GlueError, 1),
    ],
)
async def test_an_added_error_answers_every_lookup_of_that_id(
    glue_mock: MockGlue, code: str, status: int, kind: type[errors.GlueError], sent: int
) -> None:
    glue_mock.add_session("s-1", status="READY")
    glue_mock.add_error("s-1", code, "it went wrong", status=status)
    for _ in range(2):
        with pytest.raises(kind) as info:
            await glue_mock.client.get_session("s-1")
        assert type(info.value) is kind
        assert (info.value.code, info.value.message) == (code, "it went wrong")
        assert info.value.status_code == status
    # Retried as on the wire (throttles and 5xx: 3 attempts), backoffs without waiting.
    assert len(glue_mock.requests) == 2 * sent
    glue_mock.add_session("s-2", status="READY")
    assert (await glue_mock.client.get_session("s-2")).id == "s-2"


async def test_replies_are_glue_json_that_botocore_reads_alike(glue_mock: MockGlue) -> None:
    """The mock's replies parsed by boto3's own parser give what the client gives."""
    import botocore.session

    shape = (
        botocore.session.get_session()
        .get_service_model("glue")
        .operation_model("GetSession")
        .output_shape
    )
    parser = create_parser("json")
    glue_mock.add_session("ok", status="STOPPED", created_on=CREATED)
    glue_mock.add_error("throttled", "ThrottlingException", "Rate exceeded")
    outcomes = []
    for session_id in ("ok", "throttled", "missing"):
        try:
            outcomes.append(await glue_mock.client.get_session(session_id))
        except errors.GlueError as exc:
            outcomes.append(exc)
    replies = {json.loads(r.body)["Id"]: glue_mock._answer(r) for r in glue_mock.requests}
    parsed = {
        session_id: parser.parse(
            {
                "status_code": reply.status,
                "headers": HeadersDict(reply.headers),
                "body": reply.body,
                "context": {"operation_name": "GetSession"},
            },
            shape,
        )
        for session_id, reply in replies.items()
    }
    ok, throttled, missing = outcomes
    assert parsed["ok"]["Session"] == ok.to_dict()  # type: ignore[union-attr]
    for err, session_id in ((throttled, "throttled"), (missing, "missing")):
        assert isinstance(err, errors.GlueError)
        assert parsed[session_id]["Error"]["Code"] == err.code
        assert parsed[session_id]["Error"]["Message"] == err.message


async def test_set_status_moves_a_session_and_the_waiter_sees_it(glue_mock: MockGlue) -> None:
    glue_mock.add_session("s-1", status="PROVISIONING")
    assert (await glue_mock.client.get_session("s-1")).status is SessionStatus.PROVISIONING
    glue_mock.set_status("s-1", SessionStatus.READY)
    session = await glue_mock.client.wait_for_session("s-1", poll_interval=0.01)
    assert session.status is SessionStatus.READY
    glue_mock.set_status("s-1", "HIBERNATING")  # a status this version does not know
    assert (await glue_mock.client.get_session("s-1")).status == "HIBERNATING"
    with pytest.raises(KeyError, match="add_session"):
        glue_mock.set_status("never-added", "READY")


async def test_bulk_lookups_against_the_mock(glue_mock: MockGlue) -> None:
    for i in range(20):
        glue_mock.add_session(f"s-{i}", status="READY")
    results = [r async for r in glue_mock.client.get_sessions([f"s-{i}" for i in range(25)])]
    assert sorted(r.id for r in results if r.ok) == sorted(f"s-{i}" for i in range(20))
    assert {type(r.error) for r in results if not r.ok} == {errors.EntityNotFoundException}
    assert len(glue_mock.requests) == 25


def test_add_session_refuses_unknown_fields_and_wrong_types(glue_mock: MockGlue) -> None:
    with pytest.raises(TypeError):
        glue_mock.add_session("s-1", stauts="READY")
    with pytest.raises((TypeError, ValueError)):
        glue_mock.add_session("s-1", number_of_workers="five")


async def test_mock_glue_takes_client_arguments_and_closes_the_client() -> None:
    async with mock_glue(region="eu-west-1", retry=RetryConfig(max_attempts=1)) as mock:
        assert mock.client.region == "eu-west-1"
        mock.add_error("s-1", "ThrottlingException")
        with pytest.raises(errors.ThrottlingException):
            await mock.client.get_session("s-1")
        assert len(mock.requests) == 1  # max_attempts=1: not retried
        transport = mock.client.transport
        assert isinstance(transport, MockTransport)
        assert "/eu-west-1/glue/" in mock.requests[0].headers["Authorization"]
    assert transport.closed


async def test_glue_local_is_a_running_moto_endpoint(glue_local: LocalGlue) -> None:
    await glue_local.create_session("etl-1", Description="local")
    async with glue_local.client() as glue:
        session = await glue.get_session("etl-1")
        assert (session.id, session.description) == ("etl-1", "local")
        assert session.status is SessionStatus.READY
        with pytest.raises(errors.EntityNotFoundException):
            await glue.get_session("nope")


# --- from the outside: the entry point, its imports, a user's suite, no pytest -----------------


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env},
        check=False,
    )


def test_the_entry_point_names_the_plugin_module(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        from importlib.metadata import entry_points
        print([(e.name, e.value) for e in entry_points(group="pytest11") if "glue" in e.value])
        """
    )
    done = run([sys.executable, "-c", code], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[('aioglue_session', 'pytest_aioglue_session')]"


def test_loading_the_plugin_imports_nothing_but_itself(tmp_path: Path) -> None:
    # pytest and pytest-asyncio are loaded by pytest anyway; the plugin adds only its module:
    # not aioglue_session (aiohttp, botocore), not moto, not OpenTelemetry.
    code = textwrap.dedent(
        """
        import sys
        import pytest, pytest_asyncio
        before = set(sys.modules)
        import pytest_aioglue_session
        print(sorted(set(sys.modules) - before))
        """
    )
    done = run([sys.executable, "-c", code], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['pytest_aioglue_session']"


USER_SUITE = """
import sys

import pytest

from aioglue_session import SessionStatus, errors

AT_START = sorted(m for m in sys.modules if m.split(".")[0] in ("moto", "opentelemetry"))


def test_nothing_heavy_was_imported_at_start_up():
    assert AT_START == []


@pytest.mark.asyncio
async def test_with_the_mock(glue_mock):
    glue_mock.add_session("s-1", status="READY")
    assert (await glue_mock.client.get_session("s-1")).status is SessionStatus.READY
    with pytest.raises(errors.EntityNotFoundException):
        await glue_mock.client.get_session("s-2")


@pytest.mark.asyncio
async def test_with_a_local_endpoint(glue_local):
    await glue_local.create_session("s-1")
    async with glue_local.client() as glue:
        assert (await glue.get_session("s-1")).id == "s-1"
"""


def test_a_users_suite_gets_the_fixtures_in_strict_mode(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_SUITE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = strict\n")
    done = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_glue_local_is_skipped_naming_the_demo_extra_without_moto(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_SUITE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = strict\n")
    # moto made unimportable for the run (a module that raises ImportError), as when the demo
    # extra is not installed.
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "moto.py").write_text("raise ImportError('moto is not installed')\n")
    done = run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"],
        tmp_path,
        PYTHONPATH=str(blocker),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed, 1 skipped" in done.stdout
    assert pytest_aioglue_session.MISSING_DEMO in done.stdout
    assert "aioglue-session[demo]" in pytest_aioglue_session.MISSING_DEMO


def test_mock_glue_works_without_pytest(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import asyncio
        import sys

        from aioglue_session import errors
        from aioglue_session.testing import mock_glue


        async def main():
            async with mock_glue() as glue_mock:
                glue_mock.add_session("s-1", status="READY", glue_version="4.0")
                session = await glue_mock.client.get_session("s-1")
                try:
                    await glue_mock.client.get_session("s-2")
                except errors.EntityNotFoundException as exc:
                    missing = exc.code
            print(session.status.value, session.glue_version, missing, len(glue_mock.requests))
            print(sorted(m for m in ("pytest", "moto") if m in sys.modules))


        asyncio.run(main())
        """
    )
    done = run([sys.executable, "-c", script], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["READY 4.0 EntityNotFoundException 2", "[]"]


def guide_block(index: int) -> str:
    text = (Path(__file__).resolve().parent.parent / "docs/guides/testing.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, re.S)[index]


async def test_the_guides_fixture_example_runs(glue_mock: MockGlue) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(guide_block(0), "docs/guides/testing.md", "exec"), namespace)
    await namespace["test_my_code"](glue_mock)


async def test_the_guides_mock_glue_example_runs() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(guide_block(1), "docs/guides/testing.md", "exec"), namespace)
    await namespace["check"]()
