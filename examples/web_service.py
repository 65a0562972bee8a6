"""An aiohttp web service that shares one GlueSessionClient across all requests.

    python examples/web_service.py --port 8080       # serve GET /sessions/{id}
    python examples/web_service.py --self-test       # a herd for one id, then a burst it sheds

Reads use ``max_age`` (a session fetched at most a second ago is served again, and concurrent
requests for one id share one GetSession request); a burst beyond ``max_waiting`` is answered 503
with ``Retry-After`` at once rather than queued, as is Glue's throttling. With no AWS settings it
serves sessions from a local Glue endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import socket
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from _local import glue_client
from aiohttp import web
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from aioglue_session import GlueSessionClient, errors

GLUE = web.AppKey("glue", GlueSessionClient)
MAX_AGE = web.AppKey("max_age", float)


def unavailable(message: str, retry_after: int) -> web.Response:
    return web.json_response(
        {"error": message}, status=503, headers={"Retry-After": str(retry_after)}
    )


async def get_session(request: web.Request) -> web.Response:
    glue = request.app[GLUE]
    session_id = request.match_info["id"]
    try:
        session = await glue.get_session(session_id, max_age=request.app[MAX_AGE])
    except errors.ParamValidationError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    except errors.EntityNotFoundException as exc:
        return web.json_response({"error": exc.message}, status=404)
    except errors.ClientBusyError:
        return unavailable("busy: too many lookups waiting", retry_after=1)
    except errors.ThrottlingException:
        return unavailable("Glue is throttling this account", retry_after=2)
    except errors.GlueError as exc:
        return web.json_response({"error": exc.code, "request_id": exc.request_id}, status=502)
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError):
        return web.json_response({"error": "Glue did not answer"}, status=504)
    return web.json_response(session.to_json_dict())


def make_app(args: argparse.Namespace, demo_ids: list[str], **client: Any) -> web.Application:
    app = web.Application()
    app[MAX_AGE] = args.max_age

    async def glue_context(app: web.Application) -> AsyncIterator[None]:
        # One client (one connection pool, one retry budget, one rate cap) for the whole
        # service, opened in the service's own event loop.
        settings = {"max_waiting": args.max_waiting, "max_rate": args.max_rate, **client}
        async with glue_client(args.endpoint_url, args.region, demo_ids, **settings) as (glue, _):
            app[GLUE] = glue
            yield

    app.cleanup_ctx.append(glue_context)
    app.router.add_get("/sessions/{id}", get_session)
    return app


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def herd(port: int, session_id: str, n: int) -> collections.Counter[str]:
    """``n`` concurrent GETs for one id; the statuses (with Retry-After) that came back."""
    async with aiohttp.ClientSession() as http:

        async def one() -> str:
            async with http.get(f"http://127.0.0.1:{port}/sessions/{session_id}") as resp:
                await resp.read()
                retry_after = resp.headers.get("Retry-After")
                return f"{resp.status}" + (f" (Retry-After: {retry_after})" if retry_after else "")

        return collections.Counter(await asyncio.gather(*(one() for _ in range(n))))


async def self_test(args: argparse.Namespace) -> int:
    demo_ids = ["web-a", "web-b"]
    sent = 0

    async def count(*_: Any) -> None:
        nonlocal sent
        sent += 1

    # Count the GetSession requests that leave the client (aiohttp's request tracing).
    tracing = aiohttp.TraceConfig()
    tracing.on_request_start.append(count)
    async with aiohttp.ClientSession(trace_configs=[tracing]) as outgoing:
        runner, port = await serve(make_app(args, demo_ids, http_session=outgoing))
        try:
            statuses = await herd(port, "web-a", args.herd)
            print(f"herd: {args.herd} concurrent GET /sessions/web-a -> {dict(statuses)}")
            print(f"      GetSession requests that reached the endpoint: {sent}")
            missing = await herd(port, "no-such-session", 1)
            print(f"GET /sessions/no-such-session -> {dict(missing)}")
        finally:
            await runner.cleanup()

    # A burst the client sheds: one connection, nobody may wait, every call its own request.
    args.max_age, args.max_waiting = None, 0
    runner, port = await serve(make_app(args, demo_ids, max_connections=1))
    try:
        statuses = await herd(port, "web-b", 20)
        print(f"burst, max_connections=1, max_waiting=0: 20 GETs -> {dict(statuses)}")
    finally:
        await runner.cleanup()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--region")
    parser.add_argument("--endpoint-url")
    parser.add_argument("--max-age", type=float, default=1.0, help="seconds (default 1)")
    parser.add_argument("--max-waiting", type=int, default=200, help="default 200")
    parser.add_argument("--max-rate", type=float, help="GetSession requests/s for the service")
    parser.add_argument("--herd", type=int, default=200, help="--self-test: GETs in the herd")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return asyncio.run(self_test(args))
    web.run_app(make_app(args, ["web-a", "web-b"]), host="127.0.0.1", port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
