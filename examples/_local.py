"""Shared by the examples: use real AWS settings when given, else a local Glue endpoint."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aioglue_session import GlueSessionClient

_AWS_HINTS = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL")


def aws_configured(endpoint_url: str | None, region: str | None) -> bool:
    return bool(endpoint_url or region or any(os.environ.get(k) for k in _AWS_HINTS))


@asynccontextmanager
async def glue_client(
    endpoint_url: str | None,
    region: str | None,
    demo_sessions: Sequence[str],
    **kwargs: Any,
) -> AsyncIterator[tuple[GlueSessionClient, Any]]:
    """A client on the given settings, or on ``local_glue()`` seeded with ``demo_sessions``.

    Yields ``(client, local)`` where ``local`` is the ``LocalGlue`` (or ``None`` for real AWS).
    """
    if aws_configured(endpoint_url, region):
        async with GlueSessionClient(endpoint_url=endpoint_url, region=region, **kwargs) as glue:
            yield glue, None
        return
    from aioglue_session.testing import local_glue

    async with local_glue() as local:
        for session_id in demo_sessions:
            await local.create_session(session_id, Description=f"example {session_id}")
        async with local.client(**kwargs) as glue:
            yield glue, local
