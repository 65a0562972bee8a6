"""Watching many sessions: ``watch_sessions`` against round-robin polling, and what a watched id
costs.

    python benchmarks/watch.py                  # both parts, about 3 minutes
    python benchmarks/watch.py --part timeline  # or --part scale

Part 1, **timeline** (real time, a local endpoint on 127.0.0.1): 1,000 sessions; 10% start
PROVISIONING and turn READY at seeded random times, the rest stay READY. Two watchers run side
by side for the same time, each on its own copy of the endpoint, each with the same budget of
``--max-rate`` polls/s: round-robin polling (the old ``examples/watch_bot.py`` loop: every id in
turn, paced to the rate) and ``watch_sessions(interval=..., max_rate=...)``. For each: detection
latency of the changes (p50, p95: from the change on the endpoint to the watcher seeing it),
requests spent, the most started in any window (against ``rate * W + rate``), and the longest
gap between two polls of one id (against ``2 N / rate + interval``).

Part 2, **scale** (instant replies from a ``MockTransport``): 1,000, 10,000 and 100,000 ids.
Memory per watched id (tracemalloc, after every id was polled once): with ``changes="status"``
the watch keeps each id's last status; with ``changes="any"`` its last ``Session``, and the
figure is what it holds beyond that ``Session``. CPU per poll of a saturated watch (every id
always due) against bare ``get_session`` calls at the same concurrency (process time,
interleaved runs, medians), over the same windows of replies: the first round (the first
``N`` polls, each a first sight that yields a change) and the steady polls after it (``--polls``
of them, at least ``N``; nothing changes), which is the watch's cost per poll.

A full run (both parts, default settings) writes ``benchmarks/results/watch.json`` and ``.md``
and the plot of part 1, ``docs/images/watch-detection.png`` (``--plot-only`` redraws it from the
JSON); any other run prints only, or writes to ``--out DIR``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

from faultserver import session_document  # the one realistic session document

from aioglue_session import GlueSessionClient, Session, SessionStatus
from aioglue_session.transport import MockTransport, RawReply, Request

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PLOT = ROOT / "docs" / "images" / "watch-detection.png"
KEY_ID, SECRET, REGION = (
    "AKIDBENCHMARK0000000",
    "bench/secret/key/not/a/real/one/000000",
    "us-east-1",
)
JSON_TYPE = "application/x-amz-json-1.1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def most_in_window(times: list[float], window: float) -> int:
    most, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - window:
            j += 1
        most = max(most, i - j + 1)
    return most


# --- part 1: the timeline ------------------------------------------------------------------------


class Timeline:
    """Which sessions change when: seeded, shared by both watchers' endpoints."""

    def __init__(self, sessions: int, changing: float, start: float, span: float, seed: int):
        rng = random.Random(seed)
        self.ids = [f"etl-session-{i:05d}" for i in range(sessions)]
        chosen = rng.sample(self.ids, int(sessions * changing))
        self.change_at = {i: start + rng.uniform(0, span) for i in chosen}
        self.t0 = 0.0  # set when the run starts (monotonic)

    def status(self, session_id: str, now: float) -> str:
        at = self.change_at.get(session_id)
        if at is not None and now - self.t0 < at:
            return "PROVISIONING"
        return "READY"


async def endpoint(timeline: Timeline) -> tuple[web.AppRunner, str]:
    """A local GetSession endpoint answering from the timeline."""

    async def get_session(request: web.Request) -> web.Response:
        body = await request.read()
        session_id = json.loads(body)["Id"]
        now = time.monotonic()
        document = session_document(session_id, timeline.status(session_id, now))
        return web.Response(
            body=json.dumps({"Session": document}).encode(),
            headers={"Content-Type": JSON_TYPE, "x-amzn-RequestId": "bench"},
        )

    app = web.Application()
    app.router.add_post("/", get_session)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def starts(
    get_session: Callable[..., Awaitable[Session]], log: list[tuple[float, str]]
) -> Callable[..., Awaitable[Session]]:
    async def logged(session_id: str, **kwargs: Any) -> Session:
        log.append((time.monotonic(), session_id))
        return await get_session(session_id, **kwargs)

    return logged


def client(url: str, **kwargs: Any) -> GlueSessionClient:
    return GlueSessionClient(
        region=REGION,
        endpoint_url=url,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        **kwargs,
    )


async def round_robin(
    glue: GlueSessionClient,
    timeline: Timeline,
    rate: float,
    duration: float,
    seen: dict[str, float],
) -> None:
    """The old bot's loop: every id in turn, one poll every 1/rate s, 16 in flight at most."""
    slots = asyncio.Semaphore(16)
    tasks: set[asyncio.Task[None]] = set()

    async def poll(session_id: str) -> None:
        try:
            session = await glue.get_session(session_id)
            if session.status == SessionStatus.READY and session_id not in seen:
                seen[session_id] = time.monotonic() - timeline.t0
        finally:
            slots.release()

    k = 0
    while True:
        due = timeline.t0 + k / rate
        if due - timeline.t0 >= duration:
            break
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        await slots.acquire()
        task = asyncio.create_task(poll(timeline.ids[k % len(timeline.ids)]))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        k += 1
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def watched(
    glue: GlueSessionClient,
    timeline: Timeline,
    rate: float,
    interval: float,
    duration: float,
    seen: dict[str, float],
) -> None:
    async def consume() -> None:
        async with glue.watch_sessions(timeline.ids, interval=interval, max_rate=rate) as watch:
            async for change in watch:
                if change.previous is not None and change.status == SessionStatus.READY:
                    seen[change.id] = time.monotonic() - timeline.t0

    with_timeout = asyncio.create_task(consume())
    await asyncio.sleep(max(0.0, timeline.t0 + duration - time.monotonic()))
    with_timeout.cancel()
    await asyncio.gather(with_timeout, return_exceptions=True)


def summary(
    name: str,
    timeline: Timeline,
    seen: dict[str, float],
    log: list[tuple[float, str]],
    rate: float,
    bound: float | None,
) -> dict[str, Any]:
    latencies = [seen[i] - at for i, at in timeline.change_at.items() if i in seen]
    times = sorted(t for t, _ in log)
    polls: dict[str, list[float]] = defaultdict(list)
    for t, session_id in log:
        polls[session_id].append(t)
    gaps = [b - a for ts in polls.values() for a, b in itertools.pairwise(ts)]
    windows = {w: most_in_window(times, w) for w in (0.0, 0.1, 1.0, 10.0)}
    return {
        "name": name,
        "detected": len(latencies),
        "changes": len(timeline.change_at),
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "max": max(latencies),
        "latencies": sorted(latencies),
        "requests": len(log),
        "over_budget": max(n - (rate * w + max(1.0, rate)) for w, n in windows.items()),
        "longest_gap": max(gaps),
        "gap_bound": bound,
        "ids_polled": len(polls),
    }


async def part_timeline(args: argparse.Namespace) -> dict[str, Any]:
    timeline = Timeline(args.sessions, 0.10, start=5.0, span=args.duration - 20.0, seed=args.seed)
    logs: dict[str, list[tuple[float, str]]] = {"round-robin": [], "watch": []}
    runners = []
    urls = {}
    for name in logs:
        runner, urls[name] = await endpoint(timeline)
        runners.append(runner)
    seen: dict[str, dict[str, float]] = {"round-robin": {}, "watch": {}}
    print(
        f"timeline: {args.sessions} sessions, {len(timeline.change_at)} turn READY between "
        f"5 s and {args.duration - 15:.0f} s; budget {args.max_rate:g} polls/s each; "
        f"watch interval {args.interval:g} s; {args.duration:g} s of real time ...",
        flush=True,
    )
    try:
        async with client(urls["round-robin"]) as a, client(urls["watch"]) as b:
            # Poll start times as each watcher makes them (the endpoint's arrival times would
            # add the network's jitter): the budget and the gaps are judged on these.
            for name, glue in (("round-robin", a), ("watch", b)):
                glue.get_session = starts(glue.get_session, logs[name])  # type: ignore[method-assign]
            timeline.t0 = time.monotonic()
            await asyncio.gather(
                round_robin(a, timeline, args.max_rate, args.duration, seen["round-robin"]),
                watched(b, timeline, args.max_rate, args.interval, args.duration, seen["watch"]),
            )
    finally:
        for runner in runners:
            await runner.cleanup()
    n = args.sessions
    rr = summary(
        "round-robin", timeline, seen["round-robin"], logs["round-robin"], args.max_rate, None
    )
    w = summary(
        "watch",
        timeline,
        seen["watch"],
        logs["watch"],
        args.max_rate,
        2 * n / args.max_rate + args.interval,
    )
    return {
        "sessions": n,
        "changing": len(timeline.change_at),
        "max_rate": args.max_rate,
        "interval": args.interval,
        "duration": args.duration,
        "seed": args.seed,
        "round_robin": rr,
        "watch": w,
        "p95_ratio": w["p95"] / rr["p95"],
        "p50_ratio": w["p50"] / rr["p50"],
    }


# --- part 2: scale -------------------------------------------------------------------------------


class Replies:
    """Instant GetSession replies for a ``MockTransport``. Notes the process time at reply
    ``marks[k]`` (``times[k]``) and sets ``done`` at the last mark."""

    def __init__(self, marks: tuple[int, ...] = ()) -> None:
        head, tail = json.dumps({"Session": session_document("")}).encode().split(b'""', 1)
        self.head, self.tail = head, tail
        self.headers = {"Content-Type": JSON_TYPE, "x-amzn-RequestId": "bench"}
        self.count = 0
        self.marks = marks
        self.times: list[float] = []
        self.next_mark = marks[0] if marks else -1
        self.done = asyncio.Event()
        self.transport: MockTransport | None = None

    def __call__(self, request: Request) -> RawReply:
        self.count += 1
        if self.count & 1023 == 0 and self.transport is not None:
            self.transport.requests.clear()  # (the MockTransport keeps every request)
        if self.count == self.next_mark:
            self.times.append(time.process_time())
            if len(self.times) == len(self.marks):
                self.next_mark = -1
                self.done.set()
            else:
                self.next_mark = self.marks[len(self.times)]
        session_id = request.body[7 : request.body.index(b'"', 8)]  # {"Id": "<id>"}
        return RawReply(200, self.headers, self.head + b'"' + session_id + b'"' + self.tail)


def mock_client(replies: Replies) -> GlueSessionClient:
    transport = MockTransport(replies)
    replies.transport = transport
    return GlueSessionClient(
        region=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        transport=transport,
        max_connections=1000,
    )


async def bare(ids: list[str], polls: int, concurrency: int) -> tuple[float, float]:
    """CPU per call of plain ``get_session`` calls: over the first ``len(ids)`` and over the
    ``polls`` after them (the same windows as ``saturated_watch``)."""
    replies = Replies((len(ids), len(ids) + polls))
    async with mock_client(replies) as glue:
        fetch = glue.get_session
        total = len(ids) + polls + concurrency
        next_index = 0

        async def worker() -> None:
            nonlocal next_index
            while next_index < total:
                i = next_index
                next_index += 1
                await fetch(ids[i % len(ids)])

        gc.collect()
        started = time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    first, steady = replies.times
    return (first - started) / len(ids), (steady - first) / polls


async def saturated_watch(ids: list[str], polls: int, concurrency: int) -> tuple[float, float]:
    """CPU per poll of a watch that always has ids due: over its first round (the first
    ``len(ids)`` polls: each yields a change, first sight) and over the ``polls`` after them
    (the steady state: polls that find nothing changed)."""
    replies = Replies((len(ids), len(ids) + polls))
    async with mock_client(replies) as glue:
        # An interval every id is always overdue at (a budget-bound watch), and a rate cap that
        # never binds but is checked at every poll.
        watch = glue.watch_sessions(
            ids, interval=len(ids) / 1e6, max_rate=1e7, concurrency=concurrency
        )

        async def consume() -> None:
            async for _ in watch:
                pass

        gc.collect()
        started = time.process_time()
        consumer = asyncio.create_task(consume())
        await replies.done.wait()
        await watch.aclose()
        await asyncio.gather(consumer, return_exceptions=True)
    first, steady = replies.times
    return (first - started) / len(ids), (steady - first) / polls


async def memory_per_id(ids: list[str], concurrency: int) -> dict[str, float]:
    """Bytes the watch holds per id after one poll of each: with ``changes="status"`` (the
    default: it keeps the last status) and with ``changes="any"`` (it keeps the last
    ``Session``, to compare every field), and what a ``Session`` takes."""
    status = await held_per_id(ids, concurrency, "status")
    held, per_session = await held_per_id(ids, concurrency, "any")
    return {
        "held_per_id": status[0],
        "held_per_id_any": held,
        "session": per_session,
        "beyond_session": held - per_session,
    }


async def held_per_id(
    ids: list[str], concurrency: int, changes: Literal["status", "any"]
) -> tuple[float, float]:
    from aioglue_session.protocol import parse_reply

    replies = Replies()
    async with mock_client(replies) as glue:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        watch = glue.watch_sessions(ids, interval=3600.0, concurrency=concurrency, changes=changes)
        seen = 0
        async with watch:
            async for _ in watch:
                seen += 1
                if seen == len(ids):
                    break
            assert replies.transport is not None
            replies.transport.requests.clear()
            gc.collect()
            held = tracemalloc.get_traced_memory()[0] - before
            # What the sessions themselves take: the same replies parsed once more, kept.
            mark = tracemalloc.get_traced_memory()[0]
            headers = {"x-amzn-RequestId": "bench"}
            sessions = [
                parse_reply(200, headers, replies.head + b'"' + i.encode() + b'"' + replies.tail)
                for i in ids
            ]
            per_session = (tracemalloc.get_traced_memory()[0] - mark) / len(ids)
            del sessions
        tracemalloc.stop()
    return held / len(ids), per_session


async def part_scale(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for n in args.scale:
        ids = [f"etl-session-{i:07d}" for i in range(n)]
        polls = max(n, args.polls)
        print(
            f"scale: {n:,} ids, {n:,} first polls + {polls:,} steady polls per run, "
            f"{args.repeat} runs each ...",
            flush=True,
        )
        runs: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.repeat):  # interleaved: the machine's drift hits both alike
            first, steady = await bare(ids, polls, args.concurrency)
            runs["bare_first"].append(first)
            runs["bare"].append(steady)
            first, steady = await saturated_watch(ids, polls, args.concurrency)
            runs["watch_first"].append(first)
            runs["watch"].append(steady)
        memory = await memory_per_id(ids, args.concurrency)
        us = {key: statistics.median(values) * 1e6 for key, values in runs.items()}
        rows.append(
            {
                "ids": n,
                "polls": polls,
                "bare_us": us["bare"],
                "watch_us": us["watch"],
                "cpu_ratio": us["watch"] / us["bare"],
                "bare_first_us": us["bare_first"],
                "watch_first_us": us["watch_first"],
                "first_ratio": us["watch_first"] / us["bare_first"],
                **memory,
            }
        )
        print(
            f"  CPU per poll {us['watch']:.1f} µs vs bare get_session {us['bare']:.1f} µs "
            f"({us['watch'] / us['bare']:.3f}x); first round (a change per poll) "
            f"{us['watch_first']:.1f} vs {us['bare_first']:.1f} µs "
            f"({us['watch_first'] / us['bare_first']:.3f}x); {memory['held_per_id']:.0f} B "
            f"per id; with changes='any' {memory['beyond_session']:.0f} B beyond its Session "
            f"({memory['session']:.0f} B)",
            flush=True,
        )
    return rows


# --- report --------------------------------------------------------------------------------------


def render(report: dict[str, Any]) -> str:
    lines = [f"Command: `{report['command']}`", ""]
    t = report.get("timeline")
    if t:
        lines += [
            f"{t['sessions']:,} sessions, {t['changing']} turn PROVISIONING -> READY at seeded "
            f"random times; {t['max_rate']:g} polls/s each; watch interval {t['interval']:g} s; "
            f"{t['duration']:g} s.",
            "",
            "| | detection p50 | p95 | max | requests | most in any window vs budget "
            "| longest gap (bound) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for key in ("round_robin", "watch"):
            r = t[key]
            bound = f" ({r['gap_bound']:.0f} s)" if r["gap_bound"] else ""
            lines.append(
                f"| {r['name']} | {r['p50']:.2f} s | {r['p95']:.2f} s | {r['max']:.2f} s | "
                f"{r['requests']:,} | {r['over_budget']:+.0f} | {r['longest_gap']:.1f} s{bound} |"
            )
        lines += [
            "",
            f"Watch / round-robin: p50 {t['p50_ratio']:.2f}x, p95 {t['p95_ratio']:.2f}x "
            f"(target p95 <= 0.3x).",
            "",
        ]
    rows = report.get("scale")
    if rows:
        lines += [
            "| ids | CPU per poll: watch | bare get_session | ratio | first round: watch | bare "
            '| ratio | bytes held per id | with changes="any": beyond its Session '
            "| (a Session) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            first = (
                f"{r['watch_first_us']:.1f} µs | {r['bare_first_us']:.1f} µs | "
                f"{r['first_ratio']:.3f}x"
                if "first_ratio" in r
                else "| |"
            )
            held = f"{r['held_per_id']:.0f}" if "held_per_id_any" in r else ""
            lines.append(
                f"| {r['ids']:,} | {r['watch_us']:.1f} µs | {r['bare_us']:.1f} µs | "
                f"{r['cpu_ratio']:.3f}x | {first} | {held} | {r['beyond_session']:.0f} | "
                f"{r['session']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def plot(timeline: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(10, 4.4), dpi=110)
    for key, style in (("round_robin", "--"), ("watch", "-")):
        r = timeline[key]
        values = r["latencies"]
        ax.step(
            values,
            [(i + 1) / len(values) for i in range(len(values))],
            style,
            where="post",
            label=f"{r['name']} (p95 {r['p95']:.1f} s)",
        )
    ax.set_xlabel("seconds from the change to the watcher seeing it")
    ax.set_ylabel("changes seen")
    ax.set_title(
        f"{timeline['sessions']:,} sessions, {timeline['max_rate']:g} polls/s: detection latency"
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    if path.parent == RESULTS:  # a full run: the docs' figure too (see docs/images/README.md)
        from figures import save

        save(fig, path.name, RESULTS)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return True


parser_defaults: dict[str, Any] = {}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("timeline", "scale", "all"), default="all")
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--max-rate", type=float, default=100.0)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=80.0, help="seconds of part 1")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument(
        "--scale", type=lambda s: [int(x) for x in s.split(",")], default=[1000, 10000, 100000]
    )
    parser.add_argument("--polls", type=int, default=50000, help="polls per run in part 2")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-save", action="store_true", help="print only")
    parser.add_argument(
        "--plot-only", action="store_true", help="redraw the plot from results/watch.json"
    )
    parser.add_argument(
        "--out", type=Path, help="write watch.json, watch.md and the plot here instead"
    )
    args = parser.parse_args()
    for name in ("sessions", "max_rate", "interval", "duration", "seed", "scale", "polls"):
        parser_defaults[name] = parser.get_default(name)
    parser_defaults["repeat"] = parser.get_default("repeat")
    return args


def main() -> None:
    args = parse_args()
    if args.plot_only:
        report = json.loads((RESULTS / "watch.json").read_text())
        if plot(report["timeline"], RESULTS / PLOT.name):
            print(f"plot: {PLOT}")
        return
    report: dict[str, Any] = {
        "command": "python " + " ".join(["benchmarks/watch.py", *sys.argv[1:]])
    }
    if args.part in ("timeline", "all"):
        report["timeline"] = asyncio.run(part_timeline(args))
    if args.part in ("scale", "all"):
        report["scale"] = asyncio.run(part_scale(args))
    text = render(report)
    print()
    print(text)
    if args.no_save:
        return
    # A full run (both parts, the default settings) writes the README's figures and the docs'
    # plot; any other run writes to --out, or prints only.
    full = args.part == "all" and all(
        getattr(args, name) == parser_defaults[name] for name in parser_defaults
    )
    results = args.out or (RESULTS if full else None)
    if results is None:
        print("(not the full default run: pass --out DIR to keep its results)")
        return
    results.mkdir(parents=True, exist_ok=True)
    (results / "watch.json").write_text(json.dumps(report, indent=1) + "\n")
    (results / "watch.md").write_text(text)
    if "timeline" in report and plot(report["timeline"], results / PLOT.name):
        print(f"plot: {PLOT if results == RESULTS else results / PLOT.name}")


if __name__ == "__main__":
    main()
