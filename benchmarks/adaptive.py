"""Adaptive retry mode against a server that throttles above a fixed rate.

    python benchmarks/adaptive.py --limit 200 --seconds 20 --concurrency 32

Runs standard mode, then adaptive mode, each on a fresh client for the same time, against a local
server (tests/faultserver.py's token bucket) that throttles every request above ``--limit`` per
second, and prints goodput / limit and the share of throttled replies. Loopback only; stops by
itself.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from faultserver import FaultServer

from aioglue_session import GlueSessionClient, RetryConfig, errors


async def run_mode(mode: str, limit: float, seconds: float, concurrency: int) -> dict[str, Any]:
    async with FaultServer() as server:
        server.throttle_above(limit, burst=max(limit / 10, 1))
        async with GlueSessionClient(
            endpoint_url=server.url,
            region="us-east-1",
            aws_access_key_id="AKIDBENCH",
            aws_secret_access_key="bench-secret",
            retry=RetryConfig(mode=mode, max_attempts=3),  # type: ignore[arg-type]
            max_connections=concurrency,
        ) as glue:
            ids = (f"bench-{i}" for i in itertools.count())
            done = failed = 0
            deadline = time.monotonic() + seconds

            async def worker() -> None:
                nonlocal done, failed
                while time.monotonic() < deadline:
                    try:
                        await glue.get_session(next(ids))
                        done += 1
                    except errors.GlueError:
                        failed += 1

            started = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.monotonic() - started
        replies = server.ok_count + server.throttled_count
        return {
            "mode": mode,
            "goodput": done / elapsed,
            "goodput_ratio": done / elapsed / limit,
            "throttled_share": server.throttled_count / replies if replies else 0.0,
            "failed_calls": failed,
            "requests": replies,
        }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=200.0, help="server limit, requests/s")
    parser.add_argument("--seconds", type=float, default=60.0, help="run time per mode")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    print(f"limit {args.limit:g}/s, {args.seconds:g}s per mode, concurrency {args.concurrency}")
    print(f"{'mode':<10}{'goodput/s':>10}{'goodput/limit':>15}{'throttled':>11}{'failed':>8}")
    for mode in ("standard", "adaptive"):
        r = await run_mode(mode, args.limit, args.seconds, args.concurrency)
        print(
            f"{r['mode']:<10}{r['goodput']:>10.1f}{r['goodput_ratio']:>15.2f}"
            f"{r['throttled_share']:>10.1%}{r['failed_calls']:>8}"
        )


if __name__ == "__main__":
    asyncio.run(main())
