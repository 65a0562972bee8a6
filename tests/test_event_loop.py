"""The suite runs on the event loop it was asked for (``--loop`` / ``AIOGLUE_TEST_LOOP``): CI
runs it once more on uvloop's, so a test that passes there passed on uvloop."""

from __future__ import annotations

import asyncio

import pytest
from faultserver import FaultServer

from aioglue_session import GlueSessionClient


@pytest.fixture
def loop_name(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("loop"))


async def test_the_tests_run_on_the_loop_asked_for(loop_name: str) -> None:
    loop = asyncio.get_running_loop()
    if loop_name == "uvloop":
        import uvloop

        assert isinstance(loop, uvloop.Loop)
    else:
        assert type(loop).__module__.startswith("asyncio.")


async def test_a_client_and_its_lookups_belong_to_the_running_loop(
    fault_server: FaultServer, loop_name: str
) -> None:
    async with GlueSessionClient(
        region="us-east-1",
        endpoint_url=fault_server.url,
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="test",
    ) as glue:
        sessions = await asyncio.gather(*(glue.get_session(f"s-{i}") for i in range(50)))
        assert [s.id for s in sessions] == [f"s-{i}" for i in range(50)]
        assert glue.calls_in_flight == 0
    # The fault server (aiohttp's) ran on the same loop.
    assert fault_server.count == 50
