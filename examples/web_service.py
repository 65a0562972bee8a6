"""An aiohttp web service that shares one GlueSessionClient across all requests.

    python examples/web_service.py --port 8080       # serve GET /sessions/{id}
    python examples/web_service.py --self-test       # start, request a few ids, stop

With no AWS settings it serves sessions from a local Glue endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
from _local import glue_client
from aiohttp import web

from aioglue_session import GlueSessionClient, errors

GLUE: web.AppKey[GlueSessionClient] = web.AppKey("glue", GlueSessionClient)


def iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def get_session(request: web.Request) -> web.Response:
    glue = request.app[GLUE]
    session_id = request.match_info["id"]
    try:
        session = await glue.get_session(session_id)
    except errors.ParamValidationError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    except errors.EntityNotFoundException as exc:
        return web.json_response({"error": exc.message}, status=404)
    except errors.GlueError as exc:
        return web.json_response({"error": exc.code, "request_id": exc.request_id}, status=502)
    return web.json_response(session.to_dict(), dumps=lambda d: json.dumps(d, default=iso))


def make_app(args: argparse.Namespace, demo_ids: list[str]) -> web.Application:
    app = web.Application()

    async def glue_context(app: web.Application) -> AsyncIterator[None]:
        # One client (one connection pool, one retry budget) for the whole service.
        async with glue_client(args.endpoint_url, args.region, demo_ids) as (glue, _):
            app[GLUE] = glue
            yield

    app.cleanup_ctx.append(glue_context)
    app.router.add_get("/sessions/{id}", get_session)
    return app


async def self_test(args: argparse.Namespace) -> int:
    demo_ids = ["web-a", "web-b"]
    runner = web.AppRunner(make_app(args, demo_ids))
    await runner.setup()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        async with aiohttp.ClientSession() as http:
            for session_id in [*demo_ids, "no-such-session"]:
                async with http.get(f"http://127.0.0.1:{port}/sessions/{session_id}") as resp:
                    body = await resp.json()
                    print(resp.status, json.dumps(body)[:120])
    finally:
        await runner.cleanup()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--region")
    parser.add_argument("--endpoint-url")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return asyncio.run(self_test(args))
    web.run_app(make_app(args, ["web-a", "web-b"]), host="127.0.0.1", port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
