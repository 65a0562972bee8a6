"""Soak: many lookups through one client against a faulty local server; nothing lost, memory flat.

    python benchmarks/soak.py --million         # 1,000,000 lookups at C=256, every fault, max_age
    python benchmarks/soak.py --lookups 200000  # the earlier soak: throttles and resets only

One ``GlueSessionClient`` runs ``get_sessions`` over a lazy stream of ids (every 1,000th one
invalid) in batches, against the fault-injection server (tests/faultserver.py, in its own process
so that its memory and CPU are not counted), which answers a share of requests with a fault drawn
at random: a throttle, a connection reset, a 500 or 503, a stall past the client's read timeout,
or a body sent slowly in pieces. With ``--hot-share``, that share of the lookups are
``get_session(hot_id, max_age=...)`` reads of a few hot ids, made alongside each batch (as a web
service does): served from what the client remembers or shares, or by a request of their own.

After each batch it checks that every id was answered exactly once, and samples RSS, open file
descriptors and the idle pooled connections (and ``tracemalloc`` unless ``--no-tracemalloc``).
Growth is the median of the samples of the last tenth (and quarter) of the run vs. the first. At
the end: the tasks left in the loop once the client and server are closed. Loopback only; stops
by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import random
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
async def fault_server_process(
    throttle: float, reset: float, seed: int = 1, **more: float
) -> AsyncIterator[str]:
    """The fault server in a child process; yields its URL, stops it on exit. ``more``:
    ``server_error``, ``stall``, ``stall_seconds``, ``slow_body`` shares (see
    ``FaultServer.random_faults``)."""
    options = [f"--{name.replace('_', '-')}={value}" for name, value in more.items()]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(FAULT_SERVER),
        "--throttle",
        str(throttle),
        "--reset",
        str(reset),
        "--seed",
        str(seed),
        *options,
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


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


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
    *,
    server_error: float = 0.0,
    stall: float = 0.0,
    slow_body: float = 0.0,
    read_timeout: float = 5.0,
    hot_share: float = 0.0,
    hot_ids: int = 100,
    max_age: float = 1.0,
    lanes: int = 1,
) -> dict[str, Any]:
    """``lookups`` in all: ``hot_share`` of them ``max_age`` reads of ``hot_ids`` hot ids, the
    rest bulk lookups of distinct ids, in batches run by ``lanes`` concurrent ``get_sessions``
    calls. A stall lasts 1.5 x ``read_timeout`` (past it)."""
    hot_total = round(lookups * hot_share)
    fresh_total = lookups - hot_total
    # About 80 batches (at least 200 for a million), so each tenth of the run has samples.
    batch_size = batch_size or max(min(fresh_total // 80, 5_000), 100)
    if trace:
        tracemalloc.start(1)
    faults = {
        "server_error": server_error,
        "stall": stall,
        "stall_seconds": 1.5 * read_timeout,
        "slow_body": slow_body,
    }
    rng = random.Random(seed)
    hot = [f"hot-{i:04d}" for i in range(hot_ids)]
    async with fault_server_process(throttle, reset, seed, **faults) as url:
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
            timeouts=Timeouts(connect=5, read=read_timeout),
            max_connections=concurrency,
        ) as glue:
            outcomes: Counter[str] = Counter()
            hot_outcomes: Counter[str] = Counter()
            answered = duplicates = hot_done = 0
            failures: list[str] = []
            # (answered, rss, traced, idle pooled connections, open file descriptors)
            samples: list[tuple[int, int, int, int, int]] = []
            failed_so_far: list[int] = []  # lookups failed by each sample
            started = time.perf_counter()
            stream = ids(fresh_total)

            async def hot_read(session_id: str) -> None:
                try:
                    session = await glue.get_session(session_id, max_age=max_age)
                except Exception as exc:
                    hot_outcomes[f"failed: {errors.error_code(exc)}"] += 1
                    if len(failures) < 10:
                        failures.append(f"{session_id} (max_age): {exc}"[:300])
                else:
                    if session.id != session_id:
                        raise AssertionError(f"asked {session_id!r}, got {session.id!r}")
                    hot_outcomes["ok"] += 1

            async def hot_reads(n: int) -> None:
                # Hot reads alongside the batch, 16 at a time (a service's request handlers).
                calls = [rng.choice(hot) for _ in range(n)]
                for start in range(0, n, 16):
                    await asyncio.gather(*(hot_read(h) for h in calls[start : start + 16]))

            taken = 0

            async def lane() -> None:
                nonlocal answered, duplicates, taken, hot_done
                while taken < fresh_total:
                    # One bulk call per batch: get_sessions keeps the ids it has seen (to answer
                    # each distinct id once) for the length of the call, so a batch bounds that
                    # set. Several lanes overlap one batch's slow tail with the next batch.
                    batch = list(itertools.islice(stream, min(batch_size, fresh_total - taken)))
                    taken += len(batch)
                    seen: set[str] = set()
                    batch_set = set(batch)
                    # This batch's share of the hot reads, so they spread over the whole run.
                    n_hot = round(hot_total * taken / fresh_total) - hot_done
                    hot_done += n_hot
                    hot_task = asyncio.ensure_future(hot_reads(n_hot))
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
                    await hot_task
                    lost_in_batch = len(batch_set) - len(seen)
                    if lost_in_batch:
                        raise AssertionError(f"{lost_in_batch} ids lost in a batch")
                    del batch, seen, batch_set
                    # Sample between batches, so only what the client keeps is measured.
                    gc.collect()
                    traced = tracemalloc.get_traced_memory()[0] if trace else 0
                    samples.append(
                        (answered, rss_bytes(), traced, pooled_connections(glue), open_fds())
                    )
                    failed_so_far.append(
                        sum(n for k, n in outcomes.items() if k.startswith("failed"))
                        + sum(n for k, n in hot_outcomes.items() if k.startswith("failed"))
                    )

            await asyncio.gather(*(lane() for _ in range(lanes)))
            elapsed = time.perf_counter() - started
            retries = backoffs
            quota = glue.retry_quota
            calls_in_flight = glue.calls_in_flight
        stats = await server_stats(url)
    await asyncio.sleep(0)  # let finished tasks be collected
    tasks_left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if trace:
        tracemalloc.stop()
    hot_answered = sum(hot_outcomes.values())
    if hot_answered != hot_total:
        raise AssertionError(f"{hot_total - hot_answered} max_age reads never answered")
    # First attempts: one per valid bulk id and one per hot read that made a request of its own.
    invalid = outcomes["invalid id refused"]
    hot_requests = stats["received"] - retries - (fresh_total - invalid)

    def part(low: float, high: float) -> list[float]:
        """Median of each sampled figure over the samples in this part of the run."""
        chosen = [x for x in samples if low * fresh_total < x[0] <= high * fresh_total]
        chosen = chosen or (samples[:1] if low == 0 else samples[-1:])
        return [statistics.median(x[i] for x in chosen) for i in range(5)]

    # The first and last quarter (and tenth) of the run: medians of their samples.
    first, last = part(0, 0.25), part(0.75, 1)
    first_tenth, last_tenth = part(0, 0.1), part(0.9, 1)
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
        "bulk_lookups": fresh_total,
        "concurrency": concurrency,
        "lanes": lanes,
        "batch_size": batch_size,
        "answered": answered,
        "ids_lost": fresh_total - answered,
        "duplicates": duplicates,
        "outcomes": dict(outcomes),
        "max_age_reads": hot_total,
        "max_age_reads_answered": hot_answered,
        "max_age_outcomes": dict(hot_outcomes),
        "max_age_requests_sent": hot_requests,
        "max_age_hot_ids": hot_ids,
        "max_age_s": max_age,
        "failures": failures,
        "requests_served": stats["received"],
        "faults_injected": {
            "throttles": stats["throttles"],
            "resets": stats["resets"],
            "server_errors_5xx": stats["server_errors"],
            "stalls_past_read_timeout": stats["stalls"],
            "slow_bodies": stats["slow_bodies"],
            "total": stats["throttles"]
            + stats["resets"]
            + stats["server_errors"]
            + stats["stalls"]
            + stats["slow_bodies"],
        },
        "read_timeout_s": read_timeout,
        "ids_that_met_a_fault": stats["ids_faulted"],
        "most_faults_one_id_met": stats["most_faults_one_id"],
        "retries": retries,
        "retry_quota_left": quota,
        "elapsed_s": round(elapsed, 1),
        "lookups_per_s": round(lookups / elapsed),
        "memory_samples": len(samples),
        "rss_mib_first_last_quarter": [round(first[1] / 2**20, 1), round(last[1] / 2**20, 1)],
        "rss_growth_pct": round(100 * (last[1] - first[1]) / first[1], 2),
        "rss_mib_first_last_tenth": [
            round(first_tenth[1] / 2**20, 1),
            round(last_tenth[1] / 2**20, 1),
        ],
        "open_fds_first_last_tenth": [first_tenth[4], last_tenth[4]],
        "open_fds_max": max(x[4] for x in samples),
        "pooled_connections_first_last_tenth": [first_tenth[3], last_tenth[3]],
        "calls_in_flight_at_end": calls_in_flight,
        "tasks_left_after_close": len(tasks_left),
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
        "rss_mib_series": [round(x[1] / 2**20, 1) for x in samples],
        "open_fds_series": [x[4] for x in samples],
        "failed_lookups_series": failed_so_far,
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
    parser.add_argument("--server-error", type=float, default=0.0, help="share of 500/503s")
    parser.add_argument(
        "--stall", type=float, default=0.0, help="share of stalls past the read timeout"
    )
    parser.add_argument("--slow-body", type=float, default=0.0, help="share of slow bodies")
    parser.add_argument("--read-timeout", type=float, default=5.0, help="the client's, seconds")
    parser.add_argument(
        "--hot-share", type=float, default=0.0, help="share of lookups that are max_age reads"
    )
    parser.add_argument("--max-age", type=float, default=1.0, help="seconds, for those reads")
    parser.add_argument(
        "--million",
        action="store_true",
        help="the million-lookup soak: 1,000,000 lookups at C=256, 3%% throttles, 1%% resets, "
        "1%% 5xx, 0.2%% stalls past a 2 s read timeout, 0.5%% slow bodies, 10%% max_age reads, "
        "4 lanes of 5,000-id batches (no tracemalloc)",
    )
    parser.add_argument("--lanes", type=int, default=1, help="batches in flight at once")
    parser.add_argument("--batch-size", type=int, help="ids per get_sessions call")
    parser.add_argument("--out", type=Path, help="also write the report (JSON) here")
    args = parser.parse_args()
    if args.million:
        args.lookups, args.concurrency, args.no_tracemalloc = 1_000_000, 256, True
        args.throttle, args.reset, args.server_error = 0.03, 0.01, 0.01
        args.stall, args.slow_body, args.read_timeout = 0.002, 0.005, 2.0
        args.hot_share, args.lanes, args.batch_size = 0.1, 4, 5_000
    report = asyncio.run(
        soak(
            args.lookups,
            args.concurrency,
            args.throttle,
            args.reset,
            not args.no_tracemalloc,
            seed=args.seed,
            server_error=args.server_error,
            stall=args.stall,
            slow_body=args.slow_body,
            read_timeout=args.read_timeout,
            hot_share=args.hot_share,
            max_age=args.max_age,
            lanes=args.lanes,
            batch_size=args.batch_size,
        )
    )
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
