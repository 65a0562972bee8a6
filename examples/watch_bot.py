"""An event-loop bot that watches a set of sessions and reports every status change.

    python examples/watch_bot.py sess-a sess-b --interval 10 --rounds 60

With no AWS settings it watches sessions on a local Glue endpoint and moves them through
PROVISIONING -> READY -> STOPPING -> STOPPED itself, so there is something to report.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from _local import glue_client

from aioglue_session import GlueSessionClient, SessionStatus

LIFECYCLE = ["PROVISIONING", "READY", "STOPPING", "STOPPED"]


async def watch(glue: GlueSessionClient, ids: list[str], interval: float, rounds: int) -> int:
    """Poll every session each round (concurrently); print a line per change. Returns changes."""
    last: dict[str, str] = {}
    changes = 0
    for _ in range(rounds):
        async for result in glue.get_sessions(ids, concurrency=16):
            if result.session is not None:
                status = str(result.session.status)
            else:
                status = f"error:{getattr(result.error, 'code', type(result.error).__name__)}"
            if last.get(result.id) != status:
                before = last.get(result.id, "-")
                print(f"{result.id}: {before} -> {status}", flush=True)
                last[result.id] = status
                changes += 1
        if all(s in (SessionStatus.STOPPED, SessionStatus.FAILED) for s in last.values()):
            break
        await asyncio.sleep(interval)
    return changes


async def run(args: argparse.Namespace) -> int:
    ids = args.ids or ["bot-a", "bot-b", "bot-c"]
    async with glue_client(args.endpoint_url, args.region, ids) as (glue, local):
        if local is None:
            await watch(glue, ids, args.interval, args.rounds)
            return 0

        async def drive() -> None:  # the local endpoint's sessions change state on their own
            for status in LIFECYCLE[1:]:
                for session_id in ids:
                    await asyncio.sleep(args.interval / 2)
                    await local.set_status(session_id, status)
                await asyncio.sleep(args.interval * 1.5)
            for session_id in ids:
                await local.set_status(session_id, "STOPPED")

        for session_id in ids:
            await local.set_status(session_id, "PROVISIONING")
        driver = asyncio.create_task(drive())
        changes = await watch(glue, ids, args.interval, args.rounds)
        driver.cancel()
        print(f"{changes} status changes seen", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between polls")
    parser.add_argument("--rounds", type=int, default=40, help="stop after this many polls")
    parser.add_argument("--region")
    parser.add_argument("--endpoint-url")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
