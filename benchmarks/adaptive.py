"""Rate control against an endpoint whose quota nobody told the client.

    python benchmarks/adaptive.py                # 3 rounds of every mode and limit, ~10 min
    python benchmarks/adaptive.py --rounds 1     # one round, ~3.5 min
    python benchmarks/adaptive.py --quick        # a few seconds each (the smoke test)
    python benchmarks/adaptive.py --plot-only    # redraw the figure from the last full run

A local endpoint (tests/faultserver.py in a child process: a real aiohttp.web server on
127.0.0.1) answers GetSession through a token bucket: ``limit`` requests/s with a burst of a
tenth of a second's worth, a ``ThrottlingException`` JSON reply above it. Four clients look up
ids as fast as 32 callers can, each on a fresh client, for the same time:

* ``standard``: standard retries (3 attempts), no rate limit;
* ``adaptive``: ``RetryConfig(mode="adaptive")``, botocore's CUBIC rate limiter;
* ``auto``: ``max_rate="auto"``, the limit learned from throttling replies;
* ``fixed``: ``max_rate`` set to the true limit, the ideal (in the stepped run, set again at each
  step, as an oracle would).

Two limits: steady (150/s for 16 s) and stepped (200 -> 80 -> 250/s, 10 s each). Reported per
mode and per phase, after ``--settle`` seconds (3; 4 for the steady run, as the issue measured):
goodput / limit, the share of replies throttled (from the endpoint's own counts), and, over the
whole run, calls that failed for throttling. Rounds are interleaved (each round runs every mode
once, in a rotated order) and the medians are reported. The table goes to
``benchmarks/results/adaptive.{md,json}`` (``--out``); the stepped run of the last round is
plotted (learned rate against the limit, and goodput per half second) as ``adaptive-rate.png``
into the same folder and, after a full run, into ``docs/images/`` for the guide. Loopback only;
stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from aioglue_session import GlueSessionClient, RetryConfig, errors

ROOT = Path(__file__).resolve().parent.parent
FAULT_SERVER = ROOT / "tests" / "faultserver.py"
MODES = ("standard", "adaptive", "auto", "fixed")
#: name -> ([(seconds, limit), ...], duration, settle seconds)
SCENARIOS: dict[str, tuple[list[tuple[float, float]], float]] = {
    "steady": ([(0.0, 150.0)], 16.0),
    "stepped": ([(0.0, 200.0), (10.0, 80.0), (20.0, 250.0)], 30.0),
}
SETTLE = {"steady": 4.0, "stepped": 3.0}
SAMPLE = 0.05  # seconds between samples of the client's send rate


@contextlib.asynccontextmanager
async def throttling_server() -> AsyncIterator[str]:
    """The throttling endpoint in a child process (so its CPU is not the client's)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(FAULT_SERVER), "--limit", stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line.startswith(b"http://127.0.0.1:"):
            raise RuntimeError(f"throttling server did not start: {line!r}")
        yield line.decode().strip()
    finally:
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()


def client_for(mode: str, url: str, limit: float, concurrency: int) -> GlueSessionClient:
    kw: dict[str, Any] = {}
    if mode == "auto":
        kw["max_rate"] = "auto"
    elif mode == "fixed":
        kw["max_rate"] = limit
    return GlueSessionClient(
        endpoint_url=url,
        region="us-east-1",
        aws_access_key_id="AKIDBENCH",
        aws_secret_access_key="bench-secret",
        retry=RetryConfig(mode="adaptive" if mode == "adaptive" else "standard", max_attempts=3),
        max_connections=concurrency,
        **kw,
    )


def set_fixed_rate(glue: GlueSessionClient, rate: float) -> None:
    """The oracle of the ``fixed`` mode: the client's ``max_rate`` set to the new true limit
    (a benchmark-only reach into the client's token bucket; the public API fixes it at start)."""
    glue._rate.rate = rate  # type: ignore[union-attr]


async def run_once(
    url: str, mode: str, scenario: str, duration: float, concurrency: int
) -> dict[str, Any]:
    schedule, _ = SCENARIOS[scenario]
    limit0 = schedule[0][1]
    done = failed_throttling = failed_other = 0
    rates: list[tuple[float, float | None]] = []
    counter = itertools.count()
    async with (
        client_for(mode, url, limit0, concurrency) as glue,
        aiohttp.ClientSession() as http,
    ):
        body = {"schedule": [list(step) for step in schedule], "burst_share": 0.1}
        async with http.put(url + "/__limit", json=body) as reply:
            reply.raise_for_status()
        started = time.monotonic()
        deadline = started + duration

        async def worker() -> None:
            nonlocal done, failed_throttling, failed_other
            while time.monotonic() < deadline:
                try:
                    await glue.get_session(f"bench-{next(counter)}")
                    done += 1
                except errors.ThrottlingException:
                    failed_throttling += 1
                except Exception:  # counted, reported
                    failed_other += 1

        async def sampler() -> None:
            steps = list(schedule[1:])
            while True:
                now = time.monotonic() - started
                if mode == "fixed" and steps and now >= steps[0][0]:
                    set_fixed_rate(glue, steps.pop(0)[1])
                rates.append((now, glue.send_rate))
                await asyncio.sleep(SAMPLE)

        sampling = asyncio.create_task(sampler())
        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await asyncio.sleep(duration)
        # Calls still in a backoff sleep would send after the end: stop them (not counted).
        for task in [*workers, sampling]:
            task.cancel()
        await asyncio.gather(*workers, sampling, return_exceptions=True)
        async with http.get(url + "/__timeline") as reply:
            timeline = await reply.json()
    return {
        "mode": mode,
        "scenario": scenario,
        "calls_ok": done,
        "failed_throttling": failed_throttling,
        "failed_other": failed_other,
        "timeline": timeline,  # [slot start, limit, accepted, throttled] per 0.1 s
        "rates": rates,
    }


def phases(scenario: str, duration: float, settle: float) -> list[tuple[float, float, float]]:
    """(start, end, limit) of each phase, after settling."""
    schedule, _ = SCENARIOS[scenario]
    ends = [t for t, _ in schedule[1:]] + [duration]
    return [
        (start + settle, end, limit) for (start, limit), end in zip(schedule, ends, strict=True)
    ]


def figures(run: dict[str, Any], duration: float, settle: float) -> list[dict[str, float]]:
    out = []
    for start, end, limit in phases(run["scenario"], duration, settle):
        accepted = throttled = 0
        for slot, _, ok, bad in run["timeline"]:
            if start - 1e-9 <= slot < end - 1e-9:
                accepted += ok
                throttled += bad
        total = accepted + throttled
        out.append(
            {
                "limit": limit,
                "goodput_ratio": accepted / (end - start) / limit,
                "throttled_share": throttled / total if total else 0.0,
            }
        )
    return out


def plot(runs: dict[str, dict[str, Any]], duration: float, folder: Path, docs: bool) -> bool:
    """``adaptive-rate.png`` in ``folder`` and, with ``docs``, in docs/images/."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no plot: matplotlib is not installed; pip install aioglue-session[bench])")
        return False
    schedule, _ = SCENARIOS["stepped"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    xs, ys = [], []
    for (t, limit), end in zip(schedule, [t for t, _ in schedule[1:]] + [duration], strict=True):
        xs += [t, end]
        ys += [limit, limit]
    for ax in (top, bottom):
        ax.plot(xs, ys, color="black", linewidth=2, label="endpoint's limit")
    styles = {
        "auto": ("tab:blue", 'max_rate="auto" (learned rate)'),
        "adaptive": ("tab:orange", 'RetryConfig(mode="adaptive") (botocore\'s rate)'),
    }
    for mode, (color, label) in styles.items():
        if mode in runs:
            points = [(t, r) for t, r in runs[mode]["rates"] if r is not None]
            if points:
                top.plot(*zip(*points, strict=True), color=color, label=label, linewidth=1.2)
    top.set_ylabel("requests/s")
    top.set_title("Send rate against the endpoint's limit (200 -> 80 -> 250/s)")
    top.legend(loc="upper left", fontsize=8)
    colors = {"standard": "tab:red", "adaptive": "tab:orange", "auto": "tab:blue"}
    colors["fixed"] = "tab:green"
    for mode, run in runs.items():
        per_half: dict[int, int] = {}
        for slot, _, ok, _bad in run["timeline"]:
            if slot < duration:
                per_half[int(slot / 0.5)] = per_half.get(int(slot / 0.5), 0) + ok
        xs2 = [k * 0.5 + 0.25 for k in sorted(per_half)]
        ys2 = [per_half[k] / 0.5 for k in sorted(per_half)]
        bottom.plot(xs2, ys2, color=colors[mode], label=mode, linewidth=1.0, alpha=0.85)
    bottom.set_ylabel("accepted replies/s")
    bottom.set_xlabel("seconds")
    bottom.set_title("Goodput, per half second")
    bottom.legend(loc="upper left", fontsize=8, ncol=4)
    fig.tight_layout()
    fig.set_dpi(110)
    from figures import save

    if docs:
        written = save(fig, "adaptive-rate.png", folder)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        written = [folder / "adaptive-rate.png"]
        fig.savefig(written[0], metadata={"Software": None})
    plt.close(fig)
    for path in written:
        print(f"plot: {path}")
    return True


def table(report: dict[str, Any]) -> str:
    lines = [
        "| limit | mode | goodput / limit | replies throttled | calls failed for throttling |",
        "|---|---|---:|---:|---:|",
    ]
    names = {
        "standard": "standard retries",
        "adaptive": 'botocore adaptive (`mode="adaptive"`)',
        "auto": '`max_rate="auto"`',
        "fixed": "`max_rate` = the true limit (ideal)",
    }
    for scenario, by_mode in report["results"].items():
        for mode, res in by_mode.items():
            for i, phase in enumerate(res["phases"]):
                label = f"{phase['limit']:g}/s" + (" (steady)" if scenario == "steady" else "")
                failed = str(res["failed_throttling"]) if i == 0 else "″"
                lines.append(
                    f"| {label} | {names[mode]} | {phase['goodput_ratio']:.2f} "
                    f"| {phase['throttled_share']:.1%} | {failed} |"
                )
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--plot-only", action="store_true", help="redraw the figure from --out's adaptive.json"
    )
    args = parser.parse_args()
    if args.plot_only:
        saved = json.loads((args.out / "adaptive.json").read_text())
        plot(saved["plotted"], saved["settings"]["scenarios"]["stepped"]["seconds"], args.out, True)
        return
    modes = [m for m in args.modes.split(",") if m]
    if args.quick:
        # Short phases: the figures mean little, but every part runs.
        SCENARIOS["steady"] = ([(0.0, 150.0)], 3.0)
        SCENARIOS["stepped"] = ([(0.0, 200.0), (2.0, 80.0), (4.0, 250.0)], 6.0)
        SETTLE.update(steady=1.0, stepped=1.0)
        args.rounds = 1
    raw: dict[str, dict[str, list[dict[str, Any]]]] = {s: {m: [] for m in modes} for s in SCENARIOS}
    async with throttling_server() as url:
        for round_no in range(args.rounds):
            order = modes[round_no % len(modes) :] + modes[: round_no % len(modes)]
            for scenario, (_, duration) in SCENARIOS.items():
                for mode in order:
                    run = await run_once(url, mode, scenario, duration, args.concurrency)
                    raw[scenario][mode].append(run)
                    shown = figures(run, duration, SETTLE[scenario])
                    print(
                        f"round {round_no + 1} {scenario:<8}{mode:<9}"
                        + " ".join(
                            f"[{p['limit']:g}/s {p['goodput_ratio']:.2f} "
                            f"{p['throttled_share']:.1%}]"
                            for p in shown
                        )
                        + f" failed {run['failed_throttling']}",
                        flush=True,
                    )
    results: dict[str, dict[str, Any]] = {}
    for scenario, (_, duration) in SCENARIOS.items():
        results[scenario] = {}
        for mode in modes:
            per_run = [figures(r, duration, SETTLE[scenario]) for r in raw[scenario][mode]]
            merged = []
            for i in range(len(per_run[0])):
                merged.append(
                    {
                        "limit": per_run[0][i]["limit"],
                        "goodput_ratio": statistics.median(p[i]["goodput_ratio"] for p in per_run),
                        "throttled_share": statistics.median(
                            p[i]["throttled_share"] for p in per_run
                        ),
                    }
                )
            results[scenario][mode] = {
                "phases": merged,
                "failed_throttling": statistics.median(
                    r["failed_throttling"] for r in raw[scenario][mode]
                ),
                "failed_throttling_each_round": [
                    r["failed_throttling"] for r in raw[scenario][mode]
                ],
                "failed_other": sum(r["failed_other"] for r in raw[scenario][mode]),
            }
    last = {mode: raw["stepped"][mode][-1] for mode in modes}
    report = {
        "settings": {
            "rounds": args.rounds,
            "concurrency": args.concurrency,
            "scenarios": {s: {"schedule": v[0], "seconds": v[1]} for s, v in SCENARIOS.items()},
            "settle": SETTLE,
            "quick": args.quick,
        },
        "results": results,
        # The stepped run of the last round, as plotted (for --plot-only).
        "plotted": last,
    }
    text = table(report)
    print()
    print(f"Medians of {args.rounds} round(s), {args.concurrency} callers, after settling:")
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "adaptive.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "adaptive.md").write_text(text + "\n")
    plot(last, SCENARIOS["stepped"][1], args.out, docs=not args.quick)


if __name__ == "__main__":
    asyncio.run(main())
