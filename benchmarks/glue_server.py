"""A fast Glue-like GetSession endpoint for benchmarks: run it in its own process.

    python benchmarks/glue_server.py [--delay SECONDS]   # prints "http://127.0.0.1:<port>"
    python benchmarks/glue_server.py --cert server.pem   # prints "https://127.0.0.1:<port>"

It serves until killed. ``--delay`` holds every reply for that long, like a service far away
(used to keep thousands of lookups in flight at once). ``--cert`` serves HTTPS with the private
key and certificate chain in that PEM file (benchmarks/run.py writes one with ``trustme``, for
127.0.0.1 and localhost, and gives its CA to the clients).

It speaks just enough HTTP/1.1 (keep-alive, ``Content-Length`` bodies, no pipelining needed) to
answer ``AWSGlue.GetSession`` with a realistic, full session document carrying the requested id, as
Glue does. It does not check signatures: the benchmark measures the clients, and a server that
costs as little as possible per request keeps it from being the bottleneck. Written on a bare
``asyncio.Protocol`` so one server core outruns any one client core.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from faultserver import session_document  # the one realistic session document

SESSION = session_document("")

# The reply body with the id cut out: head + json(id) + tail.
_HEAD, _TAIL = json.dumps({"Session": SESSION}, separators=(",", ":")).encode().split(b'""', 1)
_REQUEST_ID = str(uuid.uuid4()).encode()


def reply_for(body: bytes) -> bytes:
    try:
        doc = json.loads(body)
        session_id = doc["Id"]
        if not isinstance(session_id, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        payload = b'{"__type":"InvalidInputException","message":"bad request"}'
        status = b"400 Bad Request"
    else:
        payload = _HEAD + json.dumps(session_id).encode() + _TAIL
        status = b"200 OK"
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: application/x-amz-json-1.1\r\n"
        b"x-amzn-RequestId: " + _REQUEST_ID + b"\r\n"
        b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload
    )


class GlueProtocol(asyncio.Protocol):
    delay = 0.0

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            start = head.find(b"\r\ncontent-length:")
            if start >= 0:
                stop = head.find(b"\r\n", start + 2)
                length = int(head[start + 17 : stop if stop >= 0 else None])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            body = self.buffer[end + 4 : total]
            self.buffer = self.buffer[total:]
            assert self.transport is not None
            if self.delay:
                asyncio.get_running_loop().call_later(self.delay, self._write, reply_for(body))
            else:
                self.transport.write(reply_for(body))

    def _write(self, reply: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(reply)


async def serve(port: int = 0, delay: float = 0.0, cert: str | None = None) -> None:
    GlueProtocol.delay = delay
    tls: ssl.SSLContext | None = None
    if cert is not None:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(cert)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(GlueProtocol, "127.0.0.1", port, backlog=4096, ssl=tls)
    scheme = "https" if tls else "http"
    print(f"{scheme}://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to hold each reply")
    parser.add_argument("--cert", help="PEM file with the private key and certificate chain: HTTPS")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.delay, args.cert))
