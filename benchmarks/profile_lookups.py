"""Where the aioglue client's CPU goes: cProfile over N lookups, and the import-time offenders.

    python benchmarks/profile_lookups.py                      # C=16 and 64, plain and TLS
    python benchmarks/profile_lookups.py --lookups 50000 --concurrency 64 --tls --top 30
    python benchmarks/profile_lookups.py --pyinstrument       # a call tree instead of a flat list
    python benchmarks/profile_lookups.py --importtime         # python -X importtime, by cumulative

(Not ``profile.py``: a script of that name would shadow the standard library's ``profile``
module, which ``cProfile`` imports, for every script run from this folder.)

The Glue-like endpoint (benchmarks/glue_server.py) runs in its own process, plain and over TLS
with a ``trustme`` certificate, exactly as for benchmarks/run.py; the client runs in this
process: ``GlueSessionClient.get_sessions(ids, concurrency=C)`` with a pool of C, after a warm-up,
under the profiler for the timed lookups only. Prints the top lines by ``--sort`` (tottime) for
each C and transport; ``--out`` also writes them to a file. Paths are shown relative to
site-packages, the standard library or the project.

cProfile's times are wall-clock (``--timer cpu`` for process CPU time, at a far higher cost per
call): ``select.epoll.poll`` is the loop waiting for the server, and ``socket.send`` includes the
kernel's loopback delivery and any time the process is descheduled on a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import re
import subprocess
import sys
import sysconfig
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from run import KEY_ID, REGION, SECRET, glue_server, make_certificates, session_ids

ROOT = Path(__file__).resolve().parent.parent


def shorten(text: str) -> str:
    """Drop the site-packages, standard library and project prefixes from paths."""
    prefixes = {
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
        sysconfig.get_paths()["stdlib"],
        str(ROOT),
    }
    for prefix in sorted(prefixes, key=len, reverse=True):
        text = text.replace(prefix + os.sep, "")
    return text


async def lookups(
    url: str, n: int, concurrency: int, profiler: Any, use_pyinstrument: bool
) -> dict[str, float]:
    from aioglue_session import GlueSessionClient

    async with GlueSessionClient(
        endpoint_url=url,
        region=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        max_connections=concurrency,
    ) as glue:

        async def bulk(ids: list[str]) -> None:
            ok = 0
            async for result in glue.get_sessions(ids, concurrency=concurrency):
                ok += result.ok
            if ok != len(ids):
                raise RuntimeError(f"only {ok} of {len(ids)} lookups succeeded")

        await bulk([f"warm-up-{i}" for i in range(max(2 * concurrency, 200))])
        ids = session_ids(n)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if use_pyinstrument:
            profiler.start()
        else:
            profiler.enable()
        try:
            await bulk(ids)
        finally:
            if use_pyinstrument:
                profiler.stop()
            else:
                profiler.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"cpu_us_per_lookup": 1e6 * cpu / n, "lookups_per_s": n / wall}


def profile_one(url: str, n: int, concurrency: int, args: argparse.Namespace) -> str:
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler: Any = Profiler(async_mode="disabled", interval=0.0005)
    else:
        # The default timer is the wall clock (40 ns a reading); process_time costs ~450 ns a
        # reading, which would swamp functions called many times.
        timer = time.process_time if args.timer == "cpu" else time.perf_counter
        profiler = cProfile.Profile(timer)
    figures = asyncio.run(lookups(url, n, concurrency, profiler, args.pyinstrument))
    head = (
        f"{n:,} lookups, C={concurrency}: {figures['cpu_us_per_lookup']:.0f} µs CPU per lookup, "
        f"{figures['lookups_per_s']:,.0f} lookups/s (under the profiler)"
    )
    if args.pyinstrument:
        body = profiler.output_text(unicode=True, color=False, show_all=False)
    else:
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream)
        stats.sort_stats(args.sort).print_stats(args.top)
        # pstats starts with a blank line and the timing summary; keep from the summary on.
        body = stream.getvalue().strip("\n")
    return head + "\n\n" + shorten(body)


def importtime(top: int) -> str:
    """``python -X importtime -c "import aioglue_session"``, the slowest by cumulative time.

    The child runs on one CPU, where the package imports everything in this thread (see
    ``aioglue_session._preload``): with the import helper on, ``-X importtime`` interleaves two
    threads' imports into one tree, and the figures mean nothing. So the tree is the sequential
    import: what each module costs, not how long a process on two CPUs waits.
    """
    pin = getattr(os, "sched_setaffinity", None)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import aioglue_session"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),  # the installed package, as a user imports it
        preexec_fn=None if pin is None else lambda: pin(0, {min(os.sched_getaffinity(0))}),
    )
    line = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
    rows = []
    for match in map(line.match, done.stderr.splitlines()):
        if match:
            self_us, cumulative_us, indent, name = match.groups()
            rows.append((int(cumulative_us), int(self_us), len(indent) // 2, name))
    total = max(rows)[0]
    rows.sort(reverse=True)
    out = [
        f'python -X importtime -c "import aioglue_session" (on one CPU): {total / 1e3:.1f} ms in '
        f"all; the {top} slowest by cumulative time (a package's figure includes its imports)",
        "",
        f"{'cumulative ms':>13} {'self ms':>8}  depth  module",
    ]
    for cumulative_us, self_us, depth, name in rows[:top]:
        out.append(f"{cumulative_us / 1e3:13.1f} {self_us / 1e3:8.1f}  {depth:5d}  {name}")
    by_self = sorted(rows, key=lambda row: row[1], reverse=True)[:top]
    out += ["", f"the {top} slowest by self time", "", f"{'self ms':>8}  module"]
    out += [f"{self_us / 1e3:8.1f}  {name}" for _, self_us, _, name in by_self]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description="profile the aioglue client's lookups")
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--concurrency", default="16,64", help="comma-separated C values")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--tls", action="store_true", help="TLS only")
    which.add_argument("--plain", action="store_true", help="plain HTTP only")
    parser.add_argument("--top", type=int, default=15, help="lines per profile")
    parser.add_argument("--sort", default="tottime", help="pstats sort key")
    parser.add_argument(
        "--timer",
        choices=("wall", "cpu"),
        default="wall",
        help="cProfile's clock: wall (default, cheap; includes waits) or process CPU time",
    )
    parser.add_argument("--pyinstrument", action="store_true", help="pyinstrument call tree")
    parser.add_argument("--importtime", action="store_true", help="import-time offenders only")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    # As in benchmarks/run.py: no local AWS setting or proxy may steer the client.
    for key in list(os.environ):
        if key.startswith(("AWS_", "OTEL_")) or key.lower().endswith("_proxy"):
            del os.environ[key]
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

    if args.importtime:
        report = importtime(args.top)
    else:
        transports = ["tls"] if args.tls else ["plain"] if args.plain else ["plain", "tls"]
        concurrencies = [int(c) for c in args.concurrency.split(",")]
        sections = []
        with ExitStack() as stack:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            os.environ["AWS_CONFIG_FILE"] = str(workdir / "no-aws-config")
            os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(workdir / "no-aws-credentials")
            for transport in transports:
                cert = None
                if transport == "tls":
                    ca, cert = make_certificates(workdir)
                    os.environ["AWS_CA_BUNDLE"] = str(ca)
                url = stack.enter_context(glue_server(cert=cert))
                for concurrency in concurrencies:
                    name = "plain HTTP" if transport == "plain" else "TLS"
                    print(f"profiling C={concurrency}, {name} ...", file=sys.stderr)
                    body = profile_one(url, args.lookups, concurrency, args)
                    sections.append(f"=== aioglue-session, {name}: {body}")
        report = "\n\n\n".join(sections)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report + "\n")


if __name__ == "__main__":
    main()
