"""aioresponses 0.7.x with aiohttp >= 3.14.

aiohttp 3.14 (a security release) added a required ``stream_writer`` argument to
``ClientResponse.__init__``; aioresponses 0.7.8/0.7.9 do not pass it (pnuckowski/aioresponses#289).
A mocked response has no upload in progress, so a writer reporting zero bytes sent is exact.
Import this module in any test module that uses ``aioresponses``.
"""

from __future__ import annotations

import inspect
from typing import Any

import aioresponses.core
from aiohttp import ClientResponse


class _NoUpload:
    output_size = 0


class CompatClientResponse(ClientResponse):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _NoUpload())
        super().__init__(*args, **kwargs)


if "stream_writer" in inspect.signature(ClientResponse.__init__).parameters:
    aioresponses.core.ClientResponse = CompatClientResponse  # type: ignore[misc]
