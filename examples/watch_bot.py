"""An event-loop bot that watches sessions and reports every status change.

    python examples/watch_bot.py sess-a sess-b --interval 10 --max-rate 20

One ``watch_sessions`` stream: a line per change, polls spent where changes happen (ids still
PROVISIONING or STOPPING first), at most ``--max-rate`` polls a second. With no AWS settings it
watches sessions on a local Glue endpoint and moves them through PROVISIONING -> READY ->
STOPPING -> STOPPED itself, so there is something to report.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from _local import glue_client

LIFECYCLE = ["PROVISIONING", "READY", "STOPPING", "STOPPED"]


async def run(args: argparse.Namespace) -> int:
    ids = args.ids or ["bot-a", "bot-b", "bot-c"]
    async with glue_client(args.endpoint_url, args.region, ids) as (glue, local):
        if local is not None:  # the local endpoint's sessions change state on their own
            for session_id in ids:
                await local.set_status(session_id, LIFECYCLE[0])

            async def drive() -> None:
                for status in LIFECYCLE[1:]:
                    for session_id in ids:
                        await asyncio.sleep(args.interval * 2)
                        await local.set_status(session_id, status)

            driver = asyncio.create_task(drive())
        changes = 0
        async with glue.watch_sessions(
            ids, interval=args.interval, max_rate=args.max_rate
        ) as watch:
            async for change in watch:  # ends once every id is STOPPED, FAILED or TIMEOUT
                now = change.status if change.error is None else f"error:{change.error}"
                print(f"{change.id}: {change.previous or '-'} -> {now}", flush=True)
                changes += 1
        if local is not None:
            driver.cancel()
        print(f"{changes} status changes seen", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between polls")
    parser.add_argument("--max-rate", type=float, help="polls per second at most")
    parser.add_argument("--region")
    parser.add_argument("--endpoint-url")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
