"""Soak: many lookups through one client against a faulty local server; nothing lost, memory flat.

    python benchmarks/soak.py --lookups 200000

One ``GlueSessionClient`` runs ``get_sessions`` over a lazy stream of ids (every 1,000th one
invalid) against the fault-injection server (tests/faultserver.py, in its own process so that its
memory is not counted) answering 5% of requests with a throttle and resetting 1% of connections.
Memory (RSS and tracemalloc) is sampled at the end of each quarter; growth is last quarter vs.
first. Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp

from aioglue_session import GlueSessionClient, RetryConfig, Timeouts, errors
from aioglue_session.transport import AiohttpTransport

FAULT_SERVER = Path(__file__).resolve().parent.parent / "tests" / "faultserver.py"


@contextlib.asynccontextmanager
async def fault_server_process(throttle: float, reset: float, seed: int = 1) -> AsyncIterator[str]:
    """The fault server in a child process; yields its URL, stops it on exit."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(FAULT_SERVER),
        "--throttle",
        str(throttle),
        "--reset",
        str(reset),
        "--seed",
        str(seed),
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line.startswith(b"http://127.0.0.1:"):
            raise RuntimeError(f"fault server did not start: {line!r}")
        yield line.decode().strip()
    finally:
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()


async def server_stats(url: str) -> dict[str, int]:
    async with aiohttp.ClientSession() as http, http.get(url + "/__stats") as reply:
        stats: dict[str, int] = await reply.json()
        return stats


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def ids(n: int) -> Iterator[str]:
    for i in range(n):
        yield f"soak\n{i}" if i % 1000 == 999 else f"soak-{i:07d}"


async def soak(
    lookups: int,
    concurrency: int,
    throttle: float,
    reset: float,
    trace: bool,
    batch_size: int | None = None,
    seed: int = 1,
) -> dict[str, Any]:
    # About 80 batches, so each quarter of the run has about 20 memory samples.
    batch_size = batch_size or max(min(lookups // 80, 5_000), 100)
    if trace:
        tracemalloc.start(1)
    async with fault_server_process(throttle, reset, seed) as url:
        backoffs = 0

        async def counting_sleep(seconds: float) -> None:
            # Every retry here is a backoff (throttles and resets): counted through sleep=.
            nonlocal backoffs
            backoffs += 1
            await asyncio.sleep(seconds)

        async with GlueSessionClient(
            sleep=counting_sleep,
            endpoint_url=url,
            region="us-east-1",
            aws_access_key_id="AKIDSOAK",
            aws_secret_access_key="soak-secret",
            retry=RetryConfig(mode="standard", max_attempts=5),
            timeouts=Timeouts(connect=5, read=5),
            max_connections=concurrency,
        ) as glue:
            outcomes: Counter[str] = Counter()
            answered = duplicates = 0
            failures: list[str] = []
            # (answered, rss, traced, idle pooled connections)
            samples: list[tuple[int, int, int, int]] = []
            started = time.perf_counter()
            stream = ids(lookups)
            while answered < lookups:
                # One bulk call per batch: get_sessions keeps the ids it has seen (to answer each
                # distinct id once) for the length of the call, so a batch bounds that set.
                batch = list(itertools.islice(stream, min(batch_size, lookups - answered)))
                seen: set[str] = set()
                batch_set = set(batch)
                async for result in glue.get_sessions(batch, concurrency=concurrency):
                    if result.id not in batch_set:
                        raise AssertionError(f"a result for an id never asked: {result.id!r}")
                    duplicates += result.id in seen
                    seen.add(result.id)
                    if result.ok:
                        outcomes["ok"] += 1
                    elif isinstance(result.error, errors.ParamValidationError):
                        outcomes["invalid id refused"] += 1
                    else:
                        code = errors.error_code(result.error)
                        outcomes[f"failed: {code}"] += 1
                        if len(failures) < 10:
                            failures.append(f"{result.id}: {result.error}"[:300])
                    answered += 1
                lost_in_batch = len(batch_set) - len(seen)
                if lost_in_batch:
                    raise AssertionError(f"{lost_in_batch} ids lost in a batch")
                del batch, seen, batch_set
                # Sample between batches, so only what the client keeps is measured.
                gc.collect()
                traced = tracemalloc.get_traced_memory()[0] if trace else 0
                samples.append((answered, rss_bytes(), traced, pooled_connections(glue)))
            elapsed = time.perf_counter() - started
            retries = backoffs
            quota = glue.retry_quota
        stats = await server_stats(url)
    if trace:
        tracemalloc.stop()
    # Memory of the first quarter of the run vs. the last: the median of each quarter's samples.
    first_q = [x for x in samples if x[0] <= lookups / 4] or samples[:1]
    last_q = [x for x in samples if x[0] > 3 * lookups / 4] or samples[-1:]
    first = [statistics.median(x[i] for x in first_q) for i in range(4)]
    last = [statistics.median(x[i] for x in last_q) for i in range(4)]
    # The traced heap moves with the number of idle connections the pool happens to hold when a
    # sample is taken (a few KiB each, at most max_connections; resets thin the pool out): the
    # slope of traced memory against that count is reported, to read the samples by.
    pooled = [x[3] for x in samples]
    per_connection = (
        statistics.linear_regression(pooled, [x[2] for x in samples]).slope
        if trace and len(set(pooled)) > 1
        else 0.0
    )
    return {
        "lookups": lookups,
        "answered": answered,
        "ids_lost": lookups - answered,
        "duplicates": duplicates,
        "outcomes": dict(outcomes),
        "failures": failures,
        "requests_served": stats["received"],
        "faults_injected": {"throttles": stats["throttles"], "resets": stats["resets"]},
        "ids_that_met_a_fault": stats["ids_faulted"],
        "most_faults_one_id_met": stats["most_faults_one_id"],
        "retries": retries,
        "retry_quota_left": quota,
        "elapsed_s": round(elapsed, 1),
        "lookups_per_s": round(lookups / elapsed),
        "memory_samples": len(samples),
        "rss_mib_first_last_quarter": [round(first[1] / 2**20, 1), round(last[1] / 2**20, 1)],
        "rss_growth_pct": round(100 * (last[1] - first[1]) / first[1], 2),
        "tracemalloc_kib_first_last_quarter": [round(first[2] / 1024), round(last[2] / 1024)]
        if trace
        else None,
        "tracemalloc_growth_pct": round(100 * (last[2] - first[2]) / first[2], 2)
        if trace
        else None,
        "pooled_connections_first_last_quarter": [first[3], last[3]],
        "tracemalloc_kib_per_pooled_connection": round(per_connection / 1024, 1) if trace else None,
        # Trend of the traced heap without the pooled connections, over the run: KiB per sample.
        "tracemalloc_without_pool_trend_kib_per_sample": round(
            statistics.linear_regression(
                range(len(samples)), [(x[2] - per_connection * x[3]) / 1024 for x in samples]
            ).slope,
            3,
        )
        if trace and len(samples) > 1
        else None,
        "tracemalloc_kib_series": [round(x[2] / 1024) for x in samples] if trace else None,
        "pooled_connections_series": [x[3] for x in samples],
    }


def pooled_connections(glue: GlueSessionClient) -> int:
    """Idle connections in the client's pool (each holds a few KiB of buffers and parser)."""
    transport = glue.transport
    return transport.idle_connections if isinstance(transport, AiohttpTransport) else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=200_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--throttle", type=float, default=0.05, help="share of throttled replies")
    parser.add_argument("--reset", type=float, default=0.01, help="share of reset connections")
    parser.add_argument("--no-tracemalloc", action="store_true", help="faster, RSS only")
    parser.add_argument("--seed", type=int, default=1, help="the fault server's random seed")
    args = parser.parse_args()
    report = asyncio.run(
        soak(
            args.lookups,
            args.concurrency,
            args.throttle,
            args.reset,
            not args.no_tracemalloc,
            seed=args.seed,
        )
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
