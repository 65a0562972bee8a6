"""aioglue-session side by side with aiobotocore and the bare-aiohttp floor, in one run.

    pip install -e ".[bench]"
    python benchmarks/run.py            # full run: a few minutes
    python benchmarks/run.py --quick    # a short run (CI smoke test)

A Glue-like endpoint (benchmarks/glue_server.py) runs in its own process on 127.0.0.1, so its CPU
is not charged to any client. Every measurement runs in a fresh child process (this script with
``--child``), so peak RSS and cold start are each client's own. The three clients get the same id
list and the same concurrency C:

* ``aioglue``: ``GlueSessionClient.get_sessions(ids, concurrency=C)``, pool of C connections
  (signed requests, retries armed, typed ``Session`` objects);
* ``aiobotocore``: ``client.get_session(Id=...)`` from C worker tasks, ``max_pool_connections=C``;
* ``floor``: the same POSTs over a bare ``aiohttp.ClientSession`` from C worker tasks: unsigned,
  ``json.loads`` of the body, no models, no retries -- what any client must at least spend.

Measured per client: CPU seconds per lookup (process CPU time of the lookups only, after import,
set-up and a warm-up, from a collected heap), lookups per second, the longest event-loop stall
seen by a 5 ms heartbeat task, peak RSS with 10,000 lookups in flight at once, and cold start
(import + client creation + first lookup, in a fresh process). The in-flight run uses a second
endpoint that holds every reply for ``--inflight-latency`` seconds (0.5) and a pool of
``--inflight-pool`` connections (1,000) for every client, so that all 10,000 lookups really are
in flight together (the run counts them). Figures are medians over ``--repeat`` runs, the
clients' runs interleaved; the concurrency sweep for the plot likewise. Results go to
``benchmarks/results/`` (JSON, Markdown table, PNG plot).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CLIENTS = ("aioglue", "aiobotocore", "floor")
KEY_ID, SECRET = "AKIDBENCHMARK0000000", "bench/secret/key/not/a/real/one/000000"
REGION = "us-east-1"


def session_ids(n: int) -> list[str]:
    return [f"etl-session-{i:07d}" for i in range(n)]


# --- child side: one client, one measurement ---------------------------------------------------


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Heartbeat:
    """Ticks every ``period`` seconds on the loop; the longest late wake-up is the worst stall."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.period)
            self.worst = max(self.worst, loop.time() - before - self.period)

    def __enter__(self) -> Heartbeat:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


class InFlight:
    """Counts lookups between call and return; ``peak`` is the most at once."""

    def __init__(self) -> None:
        self.now = self.peak = 0

    def wrap(self, call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.now += 1
            self.peak = max(self.peak, self.now)
            try:
                return await call(*args, **kwargs)
            finally:
                self.now -= 1

        return counted


IN_FLIGHT = InFlight()


async def workers(ids: list[str], concurrency: int, one: Callable[[str], Awaitable[bool]]) -> int:
    """C tasks pulling from one shared iterator: the leanest way to hold C calls in flight."""
    source = iter(ids)
    ok = 0
    one = IN_FLIGHT.wrap(one)

    async def worker() -> None:
        nonlocal ok
        for session_id in source:
            answered = await one(session_id)  # (not "ok += await ...": that loses updates)
            ok += answered

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok


async def run_aioglue(
    url: str, ids: list[str], concurrency: int, pool: int, mode: str
) -> dict[str, Any]:
    from aioglue_session import GlueSessionClient

    async with GlueSessionClient(
        endpoint_url=url,
        region=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        max_connections=pool,
    ) as glue:
        if mode == "cold":
            await glue.get_session(ids[0])
            return {}
        # get_sessions calls glue.get_session per id: count those calls in flight.
        glue.get_session = IN_FLIGHT.wrap(glue.get_session)  # type: ignore[method-assign]

        async def bulk(batch: list[str]) -> int:
            ok = 0
            async for result in glue.get_sessions(batch, concurrency=concurrency):
                ok += result.ok
            return ok

        return await measure(bulk, ids, pool)


async def run_aiobotocore(
    url: str, ids: list[str], concurrency: int, pool: int, mode: str
) -> dict[str, Any]:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    session = get_session()
    async with session.create_client(
        "glue",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=AioConfig(max_pool_connections=pool),
    ) as glue:
        if mode == "cold":
            await glue.get_session(Id=ids[0])
            return {}

        async def one(session_id: str) -> bool:
            reply = await glue.get_session(Id=session_id)
            return reply["Session"]["Id"] == session_id

        async def bulk(batch: list[str]) -> int:
            return await workers(batch, concurrency, one)

        return await measure(bulk, ids, pool)


async def run_floor(
    url: str, ids: list[str], concurrency: int, pool: int, mode: str
) -> dict[str, Any]:
    import aiohttp

    headers = {"X-Amz-Target": "AWSGlue.GetSession", "Content-Type": "application/x-amz-json-1.1"}
    connector = aiohttp.TCPConnector(limit=pool)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(session_id: str) -> bool:
            body = json.dumps({"Id": session_id}, separators=(",", ":")).encode()
            async with http.post(url, data=body, headers=headers) as reply:
                doc = json.loads(await reply.read())
            return bool(doc["Session"]["Id"] == session_id)

        if mode == "cold":
            await one(ids[0])
            return {}

        async def bulk(batch: list[str]) -> int:
            return await workers(batch, concurrency, one)

        return await measure(bulk, ids, pool)


async def measure(
    bulk: Callable[[list[str]], Awaitable[int]], ids: list[str], pool: int
) -> dict[str, Any]:
    warm = min(len(ids), max(2 * pool, 200))
    await bulk([f"warm-up-{i}" for i in range(warm)])  # open the pool, fill caches
    IN_FLIGHT.peak = 0
    # Start every client's timed run from a collected heap, so that the one-off full collection
    # of what start-up left behind is not charged to the lookups (same for all three clients).
    gc.collect()
    gc_before = [generation["collections"] for generation in gc.get_stats()]
    with Heartbeat() as heartbeat:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        ok = await bulk(ids)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    gc_runs = [g["collections"] - b for g, b in zip(gc.get_stats(), gc_before, strict=True)]
    if ok != len(ids):
        raise RuntimeError(f"only {ok} of {len(ids)} lookups succeeded")
    return {
        "cpu_us_per_lookup": 1e6 * cpu / len(ids),
        "lookups_per_s": len(ids) / wall,
        "max_stall_ms": 1e3 * heartbeat.worst,
        "peak_rss_mib": peak_rss_mib(),
        "peak_in_flight": IN_FLIGHT.peak,
        "gc_collections": gc_runs,
        "gc_tracked_objects": len(gc.get_objects()),
    }


RUNNERS = {"aioglue": run_aioglue, "aiobotocore": run_aiobotocore, "floor": run_floor}


def child(kind: str, url: str, lookups: int, concurrency: int, pool: int, mode: str) -> None:
    ids = session_ids(lookups)
    # Cold start: the runners import their client library themselves, so this spans exactly
    # import + client creation + first lookup (the harness's own stdlib imports are done).
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = asyncio.run(RUNNERS[kind](url, ids, concurrency, pool, mode))
    if mode == "cold":
        result = {
            "cold_start_ms": 1e3 * (time.perf_counter() - wall0),
            "cold_start_cpu_ms": 1e3 * (time.process_time() - cpu0),
            "peak_rss_mib": peak_rss_mib(),
        }
    print(json.dumps(result))


# --- parent side ---------------------------------------------------------------------------------


@contextmanager
def glue_server(delay: float = 0.0) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "glue_server.py"), "--delay", str(delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"benchmark server did not start: {url!r}")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def in_child(
    kind: str, url: str, lookups: int, concurrency: int, mode: str, pool: int | None = None
) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--url", url]
    cmd += ["--lookups", str(lookups), "--concurrency", str(concurrency), "--mode", mode]
    cmd += ["--pool", str(pool or concurrency)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} {mode} run failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def available(kind: str) -> bool:
    if kind != "aiobotocore":
        return True
    try:
        import aiobotocore  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description="aioglue-session vs aiobotocore vs the floor")
    parser.add_argument("--quick", action="store_true", help="short run: small counts, 1 repeat")
    parser.add_argument("--lookups", type=int, help="lookups per throughput run")
    parser.add_argument("--concurrency", type=int, default=64, help="C for the main table")
    parser.add_argument("--repeat", type=int, help="repetitions (medians are reported)")
    parser.add_argument("--inflight", type=int, help="lookups in flight at once for peak RSS")
    parser.add_argument(
        "--inflight-pool", type=int, default=1000, help="connections in the in-flight run"
    )
    parser.add_argument(
        "--inflight-latency",
        type=float,
        default=0.5,
        help="seconds the server holds each reply in the in-flight run",
    )
    parser.add_argument("--sweep", default="1,4,16,64,256", help="concurrencies for the plot")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="results folder")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--child", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="throughput", help=argparse.SUPPRESS)
    parser.add_argument("--pool", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        pool = args.pool or args.concurrency
        child(args.child, args.url, args.lookups, args.concurrency, pool, args.mode)
        return

    lookups = args.lookups or (1_000 if args.quick else 10_000)
    repeat = args.repeat or (1 if args.quick else 3)
    inflight = args.inflight or (1_000 if args.quick else 10_000)
    inflight_pool = min(args.inflight_pool, inflight)
    sweep = [int(c) for c in args.sweep.split(",")]
    sweep_lookups = max(lookups // 4, 200) if args.quick else lookups // 2
    clients = [kind for kind in CLIENTS if available(kind)]
    if "aiobotocore" not in clients:
        print("aiobotocore is not installed: its leg is skipped (pip install -e '.[bench]')")

    report: dict[str, Any] = {
        "settings": {
            "lookups": lookups,
            "concurrency": args.concurrency,
            "repeat": repeat,
            "inflight": inflight,
            "inflight_pool": inflight_pool,
            "inflight_latency_s": args.inflight_latency,
            "sweep": sweep,
            "sweep_lookups": sweep_lookups,
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        },
        "clients": {},
        "sweep": {},
    }
    with glue_server() as url, glue_server(args.inflight_latency) as slow_url:
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {
            kind: {"throughput": [], "inflight": [], "cold": []} for kind in clients
        }
        for rep in range(repeat):
            for kind in clients:
                print(f"[{rep + 1}/{repeat}] {kind}: {lookups} lookups at C={args.concurrency}")
                runs[kind]["throughput"].append(
                    in_child(kind, url, lookups, args.concurrency, "throughput")
                )
                print(
                    f"[{rep + 1}/{repeat}] {kind}: {inflight} lookups in flight over "
                    f"{inflight_pool} connections"
                )
                runs[kind]["inflight"].append(
                    in_child(kind, slow_url, inflight, inflight, "throughput", inflight_pool)
                )
                runs[kind]["cold"].append(in_child(kind, url, 1, 1, "cold"))
        for kind in clients:
            main_run = medians(runs[kind]["throughput"])
            report["clients"][kind] = {
                "cpu_us_per_lookup": main_run["cpu_us_per_lookup"],
                "lookups_per_s": main_run["lookups_per_s"],
                "max_stall_ms": main_run["max_stall_ms"],
                "peak_rss_mib_inflight": medians(runs[kind]["inflight"])["peak_rss_mib"],
                "max_stall_ms_inflight": medians(runs[kind]["inflight"])["max_stall_ms"],
                "peak_in_flight": medians(runs[kind]["inflight"])["peak_in_flight"],
                "cold_start_ms": medians(runs[kind]["cold"])["cold_start_ms"],
                "cold_start_cpu_ms": medians(runs[kind]["cold"])["cold_start_cpu_ms"],
            }
        sweep_runs: dict[tuple[str, int], list[float]] = {}
        for rep in range(repeat):
            for concurrency in sweep:
                for kind in clients:
                    print(f"[{rep + 1}/{repeat}] sweep: {kind} at C={concurrency}")
                    result = in_child(kind, url, sweep_lookups, concurrency, "throughput")
                    sweep_runs.setdefault((kind, concurrency), []).append(result["lookups_per_s"])
        for (kind, concurrency), rates in sweep_runs.items():
            report["sweep"].setdefault(kind, {})[str(concurrency)] = statistics.median(rates)

    table = render_table(report)
    print()
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "latest.md").write_text(table + "\n")
    if not args.no_plot:
        plot(report, args.out / "throughput.png")
        print(f"\nplot: {args.out / 'throughput.png'}")


ROWS = [
    ("CPU per lookup (µs)", "cpu_us_per_lookup", "{:.0f}"),
    ("lookups/s", "lookups_per_s", "{:,.0f}"),
    ("longest loop stall (ms)", "max_stall_ms", "{:.1f}"),
    ("peak RSS, {inflight:,} in flight (MiB)", "peak_rss_mib_inflight", "{:.1f}"),
    ("longest loop stall, {inflight:,} in flight (ms)", "max_stall_ms_inflight", "{:.1f}"),
    ("cold start: import + client + 1st lookup (ms)", "cold_start_ms", "{:.0f}"),
]


def render_table(report: dict[str, Any]) -> str:
    settings, clients = report["settings"], report["clients"]
    ours = clients["aioglue"]
    floor = clients["floor"]
    boto = clients.get("aiobotocore")
    header = (
        "| metric | aioglue-session | aiobotocore | floor (bare aiohttp) "
        "| ours / floor | ours / aiobotocore |"
    )
    lines = [
        f"{settings['lookups']:,} lookups at C={settings['concurrency']}, medians of "
        f"{settings['repeat']} runs; Python {settings['python']}, {settings['machine']}",
        "",
        header,
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, key, fmt in ROWS:
        label = label.format(inflight=settings["inflight"])
        cells = [fmt.format(ours[key]), fmt.format(boto[key]) if boto else "-"]
        cells.append(fmt.format(floor[key]))
        cells.append(ratio(ours[key], floor[key]))
        cells.append(ratio(ours[key], boto[key]) if boto else "-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install -e '.[bench]')")
        return
    labels = {
        "aioglue": "aioglue-session",
        "aiobotocore": "aiobotocore",
        "floor": "floor: bare aiohttp",
    }
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for kind, points in report["sweep"].items():
        xs = [int(c) for c in points]
        ax.plot(xs, list(points.values()), marker="o", label=labels[kind])
    ax.set_xscale("log", base=2)
    ax.set_xticks(report["settings"]["sweep"], [str(c) for c in report["settings"]["sweep"]])
    ax.set_xlabel("concurrency (lookups in flight)")
    ax.set_ylabel("lookups per second")
    ax.set_title("GetSession against a local endpoint (separate process)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
