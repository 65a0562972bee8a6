"""aioglue-session side by side with aiobotocore and the bare-aiohttp floor, in one run.

    pip install -e ".[bench]"
    python benchmarks/run.py               # full run, plain and TLS: updates benchmarks/results/
    python benchmarks/run.py --quick       # a short run (CI smoke test): results/scratch/
    python benchmarks/run.py --tls         # TLS only (--plain: plain HTTP only)
    python benchmarks/run.py --only otel   # just the OpenTelemetry overhead table
    python benchmarks/run.py --only throughput,cold --concurrency 16,64
    python benchmarks/run.py --plot-only   # the plot again from results/latest.json, + docs/images/

A Glue-like endpoint (benchmarks/glue_server.py) runs in its own process on 127.0.0.1, so its CPU
is not charged to any client; for TLS a second one serves HTTPS with a ``trustme`` certificate for
127.0.0.1 and localhost, written with its CA to a temporary folder. Every client trusts that CA
and nothing else, the same way: aioglue-session through ``AWS_CA_BUNDLE``, aiobotocore through
``verify=<CA file>`` (and ``AWS_CA_BUNDLE``), the floor through
``ssl.create_default_context(cafile=<CA file>)``. Every measurement runs in a fresh child process
(this script with ``--child``) with ``AWS_*``, ``OTEL_*`` and proxy variables cleared, so peak RSS
and cold start are each client's own and no local configuration leaks in; every client's
modules are compiled to bytecode first, as an install does (``compile_bytecode``). The three
clients get the same id list and the same concurrency C:

* ``aioglue``: ``GlueSessionClient.get_sessions(ids, concurrency=C)``, pool of C connections
  (signed requests, retries armed, typed ``Session`` objects);
* ``aiobotocore``: ``client.get_session(Id=...)`` from C worker tasks, ``max_pool_connections=C``;
* ``floor``: the same POSTs over a bare ``aiohttp.ClientSession`` from C worker tasks: unsigned,
  ``json.loads`` of the body, no models, no retries -- what any client must at least spend.

Parts (``--only``; all by default), each over plain HTTP and TLS unless said otherwise:

* ``throughput``: CPU seconds per lookup (process CPU time of the lookups only, after import,
  set-up and a warm-up, from a collected heap), lookups per second and the longest event-loop
  stall seen by a 5 ms heartbeat task, at each C of ``--concurrency`` (table rows) and
  ``--sweep`` (the plot);
* ``inflight``: peak RSS with ``--inflight`` (10,000) lookups in flight at once, against a second
  endpoint that holds every reply for ``--inflight-latency`` seconds (0.5), over a pool of
  ``--inflight-pool`` connections (1,000) for every client; the run counts them in flight;
* ``cold``: import + client creation + first lookup in a fresh process (over TLS that includes
  loading the CA file and one handshake);
* ``import``: ``import aioglue_session`` / ``aiobotocore.session`` / ``aiohttp`` alone, wall and
  CPU time in a fresh ``python -c`` process that has imported nothing else;
* ``hot`` (plain HTTP): a service's hot ids, 20,000 ``get_session`` calls over 100 ids from 500
  concurrent tasks, without ``max_age`` (one request per call) and with ``max_age=1`` (calls
  served from what the client remembers, or sharing a request in flight): the requests that
  reached the endpoint, CPU per call, and the CPU of a call served without a request, estimated
  as (CPU of the max_age run - its requests x CPU per request of the run without) / calls
  served without a request;
* ``otel`` (plain HTTP, C=``--otel-concurrency``): the aioglue client with the OpenTelemetry
  import blocked (``aioglue-nootel``), with ``opentelemetry-api`` and no SDK (``aioglue``: no-op
  providers), and with the SDK configured globally (``aioglue-otelsdk``: a batch span processor
  and a periodic metric reader, both exporting to exporters that drop everything);
* ``uvloop``: the aioglue client and the floor, each on asyncio's event loop and on uvloop's
  (``aioglue-uvloop``, ``floor-uvloop``: the same runners under ``asyncio.Runner(loop_factory=
  uvloop.new_event_loop)``), at each C of ``--concurrency``: CPU per lookup and lookups/s, and
  ours / floor on each loop. Skipped when uvloop is not installed.

Figures are medians over ``--repeat`` repetitions, every client's (or variant's) runs interleaved
within each repetition, so ratios compare runs made seconds apart. The end of the run prints the
targets as PASS/FAIL lines from these medians, and the load average seen during the run (the
wall-clock rows -- stalls, lookups/s, cold start, import -- suffer most on a busy machine; their
CPU-time companions less). A full run (not ``--quick``, every part, both transports, no
``--child-env``) writes ``benchmarks/results/latest.{json,md}`` and ``throughput.png``, the plot
also into ``docs/images/`` for the docs site; any other run writes to
``benchmarks/results/scratch/`` (git-ignored) unless ``--out`` says otherwise.

The floor's plain-HTTP figure is sensitive to glibc's malloc: asyncio's plain socket transport
reads with ``recv(256 KiB)``, and depending on the heap's layout each read can trim and regrow the
heap (about two page faults per lookup, ~15 µs); ``--child-env MALLOC_TRIM_THRESHOLD_=268435456
--child-env MALLOC_MMAP_THRESHOLD_=268435456`` shows the figure without that. TLS reads into a
preallocated buffer and does not have it.
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
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CLIENTS = ("aioglue", "aiobotocore", "floor")
# The aioglue client three ways, for the OpenTelemetry table; "aioglue" is the no-op one.
OTEL_VARIANTS = ("aioglue-nootel", "aioglue", "aioglue-otelsdk")
# This client and the floor on uvloop's event loop, for the uvloop table.
UVLOOP_KINDS = ("aioglue", "floor", "aioglue-uvloop", "floor-uvloop")
KINDS = (*CLIENTS, "aioglue-nootel", "aioglue-otelsdk", "aioglue-uvloop", "floor-uvloop")
TRANSPORTS = ("plain", "tls")
PARTS = ("throughput", "inflight", "cold", "import", "otel", "hot", "uvloop")
#: The hot-ids part: lookups, distinct ids, concurrency and the max_age of its shared run.
HOT_LOOKUPS, HOT_IDS, HOT_CONCURRENCY, HOT_MAX_AGE = 20_000, 100, 500, 1.0
# What each column imports in the import-time part ("floor" is aiohttp alone).
IMPORTS = {
    "aioglue": "import aioglue_session",
    "aioglue-nootel": "import sys; sys.modules['opentelemetry'] = None; import aioglue_session",
    "aiobotocore": "import aiobotocore.session",
    "floor": "import aiohttp",
}
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
    url: str, ids: list[str], concurrency: int, pool: int, mode: str, ca: str | None
) -> dict[str, Any]:
    # Over TLS the client trusts the CA through AWS_CA_BUNDLE, set by child() before this runs.
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
        if mode.startswith("hot"):
            return await run_hot(glue, len(ids), concurrency, mode)
        # get_sessions calls glue.get_session per id: count those calls in flight.
        glue.get_session = IN_FLIGHT.wrap(glue.get_session)  # type: ignore[method-assign,assignment]

        async def bulk(batch: list[str]) -> int:
            ok = 0
            async for result in glue.get_sessions(batch, concurrency=concurrency):
                ok += result.ok
            return ok

        return await measure(bulk, ids, pool)


async def run_hot(glue: Any, lookups: int, concurrency: int, mode: str) -> dict[str, Any]:
    """``lookups`` calls over HOT_IDS ids from ``concurrency`` tasks (``mode`` "hot-max-age":
    with ``max_age``), counting the requests that reach the transport."""
    max_age = HOT_MAX_AGE if mode == "hot-max-age" else None
    transport = glue.transport
    send = transport.send
    sent = 0

    async def counted_send(*args: Any) -> Any:
        nonlocal sent
        sent += 1
        return await send(*args)

    transport.send = counted_send
    requests: list[int] = []

    async def bulk(batch: list[str]) -> int:
        nonlocal sent
        sent, ok, source = 0, 0, iter(batch)

        async def worker() -> None:
            nonlocal ok
            for session_id in source:
                session = await glue.get_session(session_id, max_age=max_age)
                ok += session.id == session_id

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        requests.append(sent)
        return ok

    hot = [f"hot-{i}" for i in range(HOT_IDS)]
    result = await measure(bulk, [hot[i % HOT_IDS] for i in range(lookups)], concurrency)
    result["requests"] = requests[-1]
    return result


async def run_aiobotocore(
    url: str, ids: list[str], concurrency: int, pool: int, mode: str, ca: str | None
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
        verify=ca,  # None: the default (AWS_CA_BUNDLE, which child() sets to the same file)
        config=AioConfig(max_pool_connections=pool),
    ) as glue:
        if mode == "cold":
            await glue.get_session(Id=ids[0])
            return {}

        async def one(session_id: str) -> bool:
            reply = await glue.get_session(Id=session_id)
            return bool(reply["Session"]["Id"] == session_id)

        async def bulk(batch: list[str]) -> int:
            return await workers(batch, concurrency, one)

        return await measure(bulk, ids, pool)


async def run_floor(
    url: str, ids: list[str], concurrency: int, pool: int, mode: str, ca: str | None
) -> dict[str, Any]:
    import ssl

    import aiohttp

    headers = {"X-Amz-Target": "AWSGlue.GetSession", "Content-Type": "application/x-amz-json-1.1"}
    tls: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca) if ca else True
    connector = aiohttp.TCPConnector(limit=pool, ssl=tls)
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


RUNNERS = {
    "aioglue": run_aioglue,
    "aioglue-nootel": run_aioglue,
    "aioglue-otelsdk": run_aioglue,
    "aiobotocore": run_aiobotocore,
    "floor": run_floor,
    "aioglue-uvloop": run_aioglue,
    "floor-uvloop": run_floor,
}


def run_on_its_loop(kind: str, coro: Any) -> Any:
    """``asyncio.run(coro)``, on uvloop's event loop for the ``-uvloop`` kinds."""
    if not kind.endswith("-uvloop"):
        return asyncio.run(coro)
    import uvloop

    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # pragma: no cover - Python 3.10
    return asyncio.run(coro)


def configure_otel_sdk() -> Callable[[], int]:
    """The OpenTelemetry SDK as an application would set it up, exporting to nowhere.

    Spans go through a ``BatchSpanProcessor`` (its worker thread's CPU is this process's, so it
    is charged to the lookups) to an exporter that counts and drops them; metrics through a
    ``PeriodicExportingMetricReader`` collecting every second to an exporter that drops them.
    Returns a function that flushes the spans and says how many were exported.
    """
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import (
        MetricExporter,
        MetricExportResult,
        MetricsData,
        PeriodicExportingMetricReader,
    )
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class DropSpans(SpanExporter):
        exported = 0

        def export(self, spans: Any) -> SpanExportResult:
            batch: list[ReadableSpan] = list(spans)
            DropSpans.exported += len(batch)
            return SpanExportResult.SUCCESS

    class DropMetrics(MetricExporter):
        def export(
            self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
        ) -> MetricExportResult:
            return MetricExportResult.SUCCESS

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return True

        def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
            pass

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(DropSpans()))
    trace.set_tracer_provider(tracer_provider)
    reader = PeriodicExportingMetricReader(DropMetrics(), export_interval_millis=1_000)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

    def spans_exported() -> int:
        tracer_provider.force_flush()
        return DropSpans.exported

    return spans_exported


def child(
    kind: str, url: str, lookups: int, concurrency: int, pool: int, mode: str, ca: str | None
) -> None:
    ids = session_ids(lookups)
    if ca:
        os.environ["AWS_CA_BUNDLE"] = ca  # aioglue's trust; aiobotocore gets verify=ca as well
    spans_exported: Callable[[], int] | None = None
    if kind == "aioglue-nootel":
        sys.modules["opentelemetry"] = None  # type: ignore[assignment]  # blocks the import
    elif kind == "aioglue-otelsdk":
        spans_exported = configure_otel_sdk()
    # Cold start: the runners import their client library themselves, so this spans exactly
    # import + client creation + first lookup (the harness's own stdlib imports are done).
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = run_on_its_loop(kind, RUNNERS[kind](url, ids, concurrency, pool, mode, ca))
    if mode == "cold":
        result = {
            "cold_start_ms": 1e3 * (time.perf_counter() - wall0),
            "cold_start_cpu_ms": 1e3 * (time.process_time() - cpu0),
            "peak_rss_mib": peak_rss_mib(),
        }
    if spans_exported is not None:
        result["spans_exported"] = spans_exported()
    print(json.dumps(result))


# --- parent side ---------------------------------------------------------------------------------


def child_env(workdir: Path) -> dict[str, str]:
    """The parent's environment without anything that would steer a client: AWS settings (a
    stray ``AWS_CA_BUNDLE`` or ``retry_mode``), OpenTelemetry settings, proxies, and
    ``PYTHONDONTWRITEBYTECODE`` (see ``compile_bytecode``)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "OTEL_"))
        and not key.lower().endswith("_proxy")
        and key != "PYTHONDONTWRITEBYTECODE"
    }
    env["AWS_CONFIG_FILE"] = str(workdir / "no-aws-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(workdir / "no-aws-credentials")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def compile_bytecode() -> None:
    """Compile every client's modules to bytecode, as an install does.

    pip compiles what it installs, but not an editable install's sources, and uv compiles
    nothing unless asked; with ``PYTHONDONTWRITEBYTECODE`` set, a fresh process would then
    compile a package on every import, which is not what its users pay. So the measured import
    and cold-start times are those of compiled modules, for every client alike.
    """
    import importlib.util

    for module in ("aioglue_session", "aiohttp", "aiobotocore", "botocore", "multidict", "yarl"):
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.submodule_search_locations:
            folder = next(iter(spec.submodule_search_locations))
            subprocess.run(
                [sys.executable, "-m", "compileall", "-q", folder], check=False, timeout=600
            )


@contextmanager
def glue_server(delay: float = 0.0, cert: Path | None = None) -> Iterator[str]:
    cmd = [sys.executable, str(HERE / "glue_server.py"), "--delay", str(delay)]
    if cert is not None:
        cmd += ["--cert", str(cert)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")):
            raise RuntimeError(f"benchmark server did not start: {url!r}")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def make_certificates(folder: Path) -> tuple[Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 and localhost: (CA file, server
    key + chain file)."""
    import trustme

    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, server_file = folder / "ca.pem", folder / "server.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server.private_key_and_cert_chain_pem.write_to_path(str(server_file))
    return ca_file, server_file


class Children:
    """Starts the measurement children, all with the same clean environment."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir

    def run(
        self,
        kind: str,
        url: str,
        lookups: int,
        concurrency: int,
        mode: str,
        pool: int | None = None,
        ca: Path | None = None,
    ) -> dict[str, Any]:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--url", url]
        cmd += ["--lookups", str(lookups), "--concurrency", str(concurrency), "--mode", mode]
        cmd += ["--pool", str(pool or concurrency)]
        if ca is not None:
            cmd += ["--ca", str(ca)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=self.env)
        if done.returncode != 0:
            raise RuntimeError(f"{kind} {mode} run failed:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    def import_ms(self, kind: str) -> dict[str, float]:
        """Wall and CPU time of one import statement in a fresh interpreter that imported nothing
        else (run from a scratch folder, so the package comes from the install, as for a user).
        The CPU figure is the one a busy machine disturbs least."""
        code = (
            "import time; t0, c0 = time.perf_counter(), time.process_time(); "
            + IMPORTS[kind]
            + "; print(1e3 * (time.perf_counter() - t0), 1e3 * (time.process_time() - c0))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=300,
            env=self.env,
            cwd=self.workdir,
        )
        if done.returncode != 0:
            raise RuntimeError(f"import {kind} failed:\n{done.stderr[-3000:]}")
        wall, cpu = map(float, done.stdout.strip().splitlines()[-1].split())
        return {"import_ms": wall, "import_cpu_ms": cpu}


def median_of(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {
        key: statistics.median(run[key] for run in runs)
        for key in runs[0]
        if isinstance(runs[0][key], int | float)
    }


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def csv_ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="aioglue-session vs aiobotocore vs the floor")
    parser.add_argument("--quick", action="store_true", help="short run: small counts, 1 repeat")
    transport = parser.add_mutually_exclusive_group()
    transport.add_argument("--tls", action="store_true", help="TLS only")
    transport.add_argument("--plain", action="store_true", help="plain HTTP only")
    parser.add_argument(
        "--only", help=f"comma-separated parts to run, of: {', '.join(PARTS)} (default: all)"
    )
    parser.add_argument("--lookups", type=int, help="lookups per throughput run")
    parser.add_argument(
        "--concurrency", type=csv_ints, default=[1, 16, 64], help="C for the table rows"
    )
    parser.add_argument("--sweep", type=csv_ints, help="C for the plot (default 1,4,16,64,256)")
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
    parser.add_argument(
        "--otel-concurrency", type=int, default=64, help="C for the OpenTelemetry table"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="results folder (default: benchmarks/results/ for a full run, else results/scratch/)",
    )
    parser.add_argument(
        "--child-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set this variable for every measurement child (repeatable), e.g. for an A/B of "
        "MALLOC_TRIM_THRESHOLD_",
    )
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument(
        "--plot-only",
        action="store_true",
        help="measure nothing: draw the plot again from the results folder's latest.json, into "
        "that folder and docs/images/",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="throughput", help=argparse.SUPPRESS)
    parser.add_argument("--pool", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ca", help=argparse.SUPPRESS)
    args = parser.parse_args()
    for setting in args.child_env:
        if "=" not in setting:
            parser.error(f"--child-env: expected KEY=VALUE, got {setting!r}")
    if args.only:
        args.only = [part.strip() for part in args.only.split(",") if part.strip()]
        unknown = set(args.only) - set(PARTS)
        if unknown:
            parser.error(f"--only: unknown part(s) {sorted(unknown)}; choose from {PARTS}")
    return args


def main() -> None:
    args = parse_args()
    if args.child:
        pool = args.pool or args.concurrency[0]
        child(args.child, args.url, args.lookups, args.concurrency[0], pool, args.mode, args.ca)
        return
    if args.plot_only:
        folder = args.out or HERE / "results"
        for path in plot(json.loads((folder / "latest.json").read_text()), folder, docs=True):
            print(f"plot: {path}")
        return

    parts = args.only or list(PARTS)
    transports = ["tls"] if args.tls else ["plain"] if args.plain else list(TRANSPORTS)
    full_run = (
        not args.quick
        and not args.child_env
        and parts == list(PARTS)
        and transports == list(TRANSPORTS)
    )
    out = args.out or (HERE / "results" if full_run else HERE / "results" / "scratch")
    lookups = args.lookups or (1_000 if args.quick else 10_000)
    repeat = args.repeat or (1 if args.quick else 5)
    inflight = args.inflight or (1_000 if args.quick else 10_000)
    inflight_pool = min(args.inflight_pool, inflight)
    table_cs = args.concurrency
    sweep = args.sweep or (table_cs if args.quick else [1, 4, 16, 64, 256])
    grid_cs = sorted(set(table_cs) | set(sweep))
    clients = [kind for kind in CLIENTS if kind != "aiobotocore" or available("aiobotocore")]
    if "aiobotocore" not in clients:
        print("aiobotocore is not installed: its leg is skipped (pip install -e '.[bench]')")
    if "tls" in transports and not available("trustme"):
        print("trustme is not installed: the TLS leg is skipped (pip install -e '.[bench]')")
        transports.remove("tls")
    if "otel" in parts and not available("opentelemetry.sdk"):
        print("opentelemetry-sdk is not installed: the OpenTelemetry table is skipped")
        parts.remove("otel")
    if "uvloop" in parts and not available("uvloop"):
        print("uvloop is not installed: the uvloop table is skipped (pip install -e '.[bench]')")
        parts.remove("uvloop")

    report: dict[str, Any] = {
        "settings": {
            "lookups": lookups,
            "concurrency": table_cs,
            "sweep": sweep,
            "repeat": repeat,
            "transports": transports,
            "parts": parts,
            "inflight": inflight,
            "inflight_pool": inflight_pool,
            "inflight_latency_s": args.inflight_latency,
            "otel_concurrency": args.otel_concurrency,
            "child_env": args.child_env,
            "quick": args.quick,
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        },
        "clients": clients,
    }
    runs: dict[str, Any] = {}  # every run's figures, for the record (medians go in the report)

    def record(path: tuple[str, ...], value: Any) -> None:
        node = runs
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node.setdefault(path[-1], []).append(value)

    started = time.perf_counter()
    compile_bytecode()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aioglue-bench-")))
        env = child_env(workdir)
        env.update(setting.split("=", 1) for setting in args.child_env)
        children = Children(env, workdir)
        ca: dict[str, Path | None] = {"plain": None}
        cert: dict[str, Path | None] = {"plain": None}
        if "tls" in transports:
            ca["tls"], cert["tls"] = make_certificates(workdir)
        fast: dict[str, str] = {}
        slow: dict[str, str] = {}
        needs_fast = {"throughput", "cold", "otel", "hot", "uvloop"} & set(parts)
        for transport in transports:
            if needs_fast:
                fast[transport] = stack.enter_context(glue_server(cert=cert[transport]))
            if "inflight" in parts:
                slow[transport] = stack.enter_context(
                    glue_server(args.inflight_latency, cert[transport])
                )
        if {"otel", "hot"} & set(parts) and "plain" not in fast:
            fast["plain"] = stack.enter_context(glue_server())

        for rep in range(1, repeat + 1):
            tag = f"[{rep}/{repeat}]"
            record(("load_average",), os.getloadavg()[0])
            if "throughput" in parts:
                for transport in transports:
                    for c in grid_cs:
                        for kind in clients:
                            print(f"{tag} {kind}: {lookups} lookups at C={c}, {transport}")
                            result = children.run(
                                kind, fast[transport], lookups, c, "throughput", ca=ca[transport]
                            )
                            record(("throughput", transport, str(c), kind), result)
            if "inflight" in parts:
                for transport in transports:
                    for kind in clients:
                        print(
                            f"{tag} {kind}: {inflight} lookups in flight over {inflight_pool} "
                            f"connections, {transport}"
                        )
                        result = children.run(
                            kind,
                            slow[transport],
                            inflight,
                            inflight,
                            "throughput",
                            inflight_pool,
                            ca[transport],
                        )
                        record(("inflight", transport, kind), result)
            if "cold" in parts:
                for transport in transports:
                    for kind in clients:
                        print(f"{tag} {kind}: cold start, {transport}")
                        result = children.run(kind, fast[transport], 1, 1, "cold", ca=ca[transport])
                        record(("cold", transport, kind), result)
            if "import" in parts:
                print(f"{tag} import times")
                kinds = [*clients, "aioglue-nootel"]
                for _ in range(5):  # cheap, and the noisiest figure: more samples
                    for kind in kinds:
                        record(("import", kind), children.import_ms(kind))
            if "hot" in parts:
                for mode in ("hot", "hot-max-age"):
                    print(f"{tag} aioglue: {HOT_LOOKUPS} calls over {HOT_IDS} ids, {mode}")
                    result = children.run(
                        "aioglue", fast["plain"], HOT_LOOKUPS, HOT_CONCURRENCY, mode, 100
                    )
                    record(("hot", mode), result)
            if "uvloop" in parts:
                for transport in transports:
                    for c in table_cs:
                        for kind in UVLOOP_KINDS:
                            print(f"{tag} {kind}: {lookups} lookups at C={c}, {transport}")
                            result = children.run(
                                kind, fast[transport], lookups, c, "throughput", ca=ca[transport]
                            )
                            record(("uvloop", transport, str(c), kind), result)
            if "otel" in parts:
                for kind in OTEL_VARIANTS:
                    c = args.otel_concurrency
                    print(f"{tag} {kind}: {lookups} lookups at C={c}, plain (OpenTelemetry)")
                    result = children.run(kind, fast["plain"], lookups, c, "throughput")
                    record(("otel", kind), result)

    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    # The 1-minute load average at the start of each repetition and at the end: on a shared
    # machine, what says how far to trust the wall-clock rows.
    load = [*runs.pop("load_average"), os.getloadavg()[0]]
    report["settings"]["load_average_1min"] = [round(value, 2) for value in load]
    report.update(summarise(runs))
    report["targets"] = targets(report)
    report["runs"] = runs

    tables = render_tables(report)
    print()
    print(tables)
    print()
    print(render_targets(report))
    load = report["settings"]["load_average_1min"]
    print(
        f"load average (1 min) during the run: {min(load):.1f} to {max(load):.1f} "
        f"on {os.cpu_count()} CPUs; {report['elapsed_s']:.0f} s in all"
    )
    if args.quick:
        print("(a --quick run: too short for its figures to mean much)")
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "latest.md").write_text(tables + "\n")
    print(f"\nresults: {out / 'latest.json'}, {out / 'latest.md'}")
    if not args.no_plot and "throughput" in parts:
        # A full run's plot is also the docs site's figure (docs/images/); others stay in `out`.
        for path in plot(report, out, docs=full_run):
            print(f"plot: {path}")
    if args.check and any(t["pass"] is False for t in report["targets"]):
        sys.exit(1)


def summarise(runs: dict[str, Any]) -> dict[str, Any]:
    """Medians of every figure, in the shape of ``runs`` (lists of runs become one dict)."""

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return median_of(node)
        return {key: walk(value) for key, value in node.items()}

    return {part: walk(node) for part, node in runs.items()}


# --- targets -------------------------------------------------------------------------------------


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The project's performance targets checked against this run's medians, for the parts that
    ran. ``pass`` is None when the run lacks a figure the target needs (a skipped client)."""
    checks: list[dict[str, Any]] = []
    parts = report["settings"]["parts"]

    def check(
        part: str, name: str, value: float | None, limit: float, unit: str, below: bool = False
    ) -> None:
        if part not in parts:
            return
        passed = None if value is None else (value < limit if below else value <= limit)
        checks.append(
            {
                "target": name,
                "value": value,
                "limit": limit,
                "unit": unit,
                "op": "<" if below else "<=",
                "pass": passed,
            }
        )

    def div(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else a / b

    throughput = report.get("throughput", {})
    for transport in report["settings"]["transports"]:
        for c in ("16", "64"):
            row = throughput.get(transport, {}).get(c, {})
            ours = row.get("aioglue", {}).get("cpu_us_per_lookup")
            floor = row.get("floor", {}).get("cpu_us_per_lookup")
            boto = row.get("aiobotocore", {}).get("cpu_us_per_lookup")
            what = f"CPU per lookup, C={c}, {label_of(transport)}: ours"
            check("throughput", f"{what} / floor", div(ours, floor), 1.15, "x")
            check("throughput", f"{what} / aiobotocore", div(ours, boto), 0.2, "x")
    for transport in report["settings"]["transports"]:
        for c in ("16", "64"):
            stall = throughput.get(transport, {}).get(c, {}).get("aioglue", {}).get("max_stall_ms")
            what = f"longest loop stall in the bulk run, C={c}, {label_of(transport)}"
            check("throughput", what, stall, 10.0, "ms", below=True)
    cold = report.get("cold", {}).get("tls", {})
    check(
        "cold",
        "cold start over TLS: ours / aiobotocore",
        div(
            cold.get("aioglue", {}).get("cold_start_ms"),
            cold.get("aiobotocore", {}).get("cold_start_ms"),
        ),
        0.6,
        "x",
    )
    imports = report.get("import", {})
    check(
        "import",
        "import aioglue_session / import aiohttp",
        div(imports.get("aioglue", {}).get("import_ms"), imports.get("floor", {}).get("import_ms")),
        1.3,
        "x",
    )
    otel = report.get("otel", {})
    nootel = otel.get("aioglue-nootel", {}).get("cpu_us_per_lookup")
    check(
        "otel",
        "OpenTelemetry API without SDK (no-op): CPU per lookup / without OpenTelemetry",
        div(otel.get("aioglue", {}).get("cpu_us_per_lookup"), nootel),
        1.03,
        "x",
    )
    served = hot_served_cpu(report)
    check(
        "hot",
        "hot ids: CPU of a call served without a request / a call with its own request",
        None if served is None else served[1] / served[0],
        0.1,
        "x",
    )
    return checks


def render_targets(report: dict[str, Any]) -> str:
    lines = ["Targets (this run's medians):"]
    for t in report["targets"]:
        verdict = {True: "PASS", False: "FAIL", None: "n/a "}[t["pass"]]
        value = "not measured" if t["value"] is None else fmt_target(t["value"], t["unit"])
        lines.append(
            f"{verdict}  {t['target']}: {value} ({t['op']} {fmt_target(t['limit'], t['unit'])})"
        )
    cold = report.get("cold", {}).get("tls", {})
    if "aioglue" in cold and "aiobotocore" in cold:
        cpu_ratio = cold["aioglue"]["cold_start_cpu_ms"] / cold["aiobotocore"]["cold_start_cpu_ms"]
        lines.append(f"info  cold start over TLS, CPU time: ours / aiobotocore: {cpu_ratio:.2f}x")
    imports = report.get("import", {})
    if "aioglue" in imports and "floor" in imports:
        cpu_ratio = imports["aioglue"]["import_cpu_ms"] / imports["floor"]["import_cpu_ms"]
        lines.append(f"info  import, CPU time: aioglue_session / aiohttp: {cpu_ratio:.2f}x")
    otel = report.get("otel", {})
    if "aioglue-otelsdk" in otel and "aioglue-nootel" in otel:
        extra = (
            otel["aioglue-otelsdk"]["cpu_us_per_lookup"]
            - otel["aioglue-nootel"]["cpu_us_per_lookup"]
        )
        lines.append(f"info  OpenTelemetry SDK configured: {extra:+.1f} µs CPU per lookup")
    return "\n".join(lines)


def fmt_target(value: float, unit: str) -> str:
    return f"{value:.2f}x" if unit == "x" else f"{value:.1f} {unit}"


# --- tables and plot -----------------------------------------------------------------------------


def label_of(transport: str) -> str:
    return {"plain": "plain HTTP", "tls": "TLS"}[transport]


def render_tables(report: dict[str, Any]) -> str:
    settings, clients = report["settings"], report["clients"]
    has_boto = "aiobotocore" in clients
    header = (
        "| metric | aioglue-session | aiobotocore | floor (bare aiohttp) "
        "| ours / floor | ours / aiobotocore |"
    )
    rows: list[tuple[str, dict[str, Any], str, str]] = []  # label, figures by client, key, format
    throughput = report.get("throughput", {})
    transports = settings["transports"]
    for key, name, fmt in (
        ("cpu_us_per_lookup", "CPU per lookup (µs)", "{:.0f}"),
        ("lookups_per_s", "lookups/s", "{:,.0f}"),
    ):
        for c in settings["concurrency"]:
            for transport in transports:
                if str(c) in throughput.get(transport, {}):
                    label = f"{name}, C={c}, {label_of(transport)}"
                    rows.append((label, throughput[transport][str(c)], key, fmt))
    stall_c = str(max(settings["concurrency"]))
    for transport in transports:
        if stall_c in throughput.get(transport, {}):
            label = f"longest loop stall, C={stall_c}, {label_of(transport)} (ms)"
            rows.append((label, throughput[transport][stall_c], "max_stall_ms", "{:.1f}"))
    inflight = report.get("inflight", {})
    for key, name, fmt in (
        ("peak_rss_mib", "peak RSS, {n:,} in flight, {t} (MiB)", "{:.1f}"),
        ("max_stall_ms", "longest loop stall, {n:,} in flight, {t} (ms)", "{:.1f}"),
    ):
        for transport in transports:
            if transport in inflight:
                label = name.format(n=settings["inflight"], t=label_of(transport))
                rows.append((label, inflight[transport], key, fmt))
    cold = report.get("cold", {})
    for transport in transports:
        if transport in cold:
            label = f"cold start: import + client + 1st lookup, {label_of(transport)} (ms)"
            rows.append((label, cold[transport], "cold_start_ms", "{:.0f}"))
    for transport in transports:
        if transport in cold:
            label = f"cold start, CPU time, {label_of(transport)} (ms)"
            rows.append((label, cold[transport], "cold_start_cpu_ms", "{:.0f}"))
    if "import" in report:
        label = "import alone: `aioglue_session` / `aiobotocore.session` / `aiohttp` (ms)"
        rows.append((label, report["import"], "import_ms", "{:.0f}"))
        rows.append(("import alone, CPU time (ms)", report["import"], "import_cpu_ms", "{:.0f}"))

    lines = []
    if rows:
        lines += [
            f"{settings['lookups']:,} lookups per run, medians of {settings['repeat']} "
            f"interleaved runs; Python {settings['python']}, {settings['machine']}. "
            "TLS: HTTPS to the same local endpoint, every client trusting the same local CA.",
            "",
            header,
            "|---|---:|---:|---:|---:|---:|",
        ]
    for label, figures, key, fmt in rows:
        ours, floor = figures["aioglue"][key], figures["floor"][key]
        boto = figures["aiobotocore"][key] if has_boto else None
        cells = [fmt.format(ours), "-" if boto is None else fmt.format(boto), fmt.format(floor)]
        cells += [ratio(ours, floor), "-" if boto is None else ratio(ours, boto)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    hot = report.get("hot")
    if hot:
        if lines:
            lines.append("")
        lines += [
            f"Hot ids: {HOT_LOOKUPS:,} `get_session` calls over {HOT_IDS} ids from "
            f"{HOT_CONCURRENCY} tasks, plain HTTP, 100 connections, medians of "
            f"{settings['repeat']} interleaved runs.",
            "",
            "| calls | requests sent | CPU per call (µs) | calls/s |",
            "|---|---:|---:|---:|",
        ]
        for mode, name in (("hot", "no `max_age`"), ("hot-max-age", f"`max_age={HOT_MAX_AGE:g}`")):
            row = hot[mode]
            lines.append(
                f"| {name} | {row['requests']:,.0f} | {row['cpu_us_per_lookup']:.1f} "
                f"| {row['lookups_per_s']:,.0f} |"
            )
        served = hot_served_cpu(report)
        if served is not None:
            per_request, per_served = served
            lines += [
                "",
                f"A call served without a request of its own (remembered or shared): "
                f"{per_served:.1f} µs of CPU, {ratio(per_served, per_request)} a call with its "
                f"own request ({per_request:.1f} µs).",
            ]

    uvloop = report.get("uvloop")
    if uvloop:
        if lines:
            lines.append("")
        lines += [
            f"uvloop: aioglue-session and the floor on asyncio's event loop and on uvloop's, "
            f"{settings['lookups']:,} lookups per run, medians of {settings['repeat']} "
            "interleaved runs.",
            "",
            "| metric | asyncio: ours | floor | ours / floor | uvloop: ours | floor "
            "| ours / floor |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for key, name, fmt in (
            ("cpu_us_per_lookup", "CPU per lookup (µs)", "{:.0f}"),
            ("lookups_per_s", "lookups/s", "{:,.0f}"),
        ):
            for c in settings["concurrency"]:
                for transport in settings["transports"]:
                    figures = uvloop.get(transport, {}).get(str(c))
                    if not figures:
                        continue
                    cells = []
                    for ours, floor in (("aioglue", "floor"), ("aioglue-uvloop", "floor-uvloop")):
                        a, b = figures[ours][key], figures[floor][key]
                        cells += [fmt.format(a), fmt.format(b), ratio(a, b)]
                    label = f"{name}, C={c}, {label_of(transport)}"
                    lines.append(f"| {label} | " + " | ".join(cells) + " |")

    otel = report.get("otel")
    if otel:
        if lines:
            lines.append("")
        base = otel["aioglue-nootel"]["cpu_us_per_lookup"]
        imports = report.get("import", {})
        lines += [
            f"OpenTelemetry overhead: aioglue-session, {settings['lookups']:,} lookups at "
            f"C={settings['otel_concurrency']}, plain HTTP, medians of {settings['repeat']} "
            "interleaved runs.",
            "",
            "| OpenTelemetry | CPU per lookup (µs) | vs. without | extra CPU per lookup (µs) "
            "| import (ms) |",
            "|---|---:|---:|---:|---:|",
        ]
        names = {
            "aioglue-nootel": "not installed (import blocked)",
            "aioglue": "`opentelemetry-api`, no SDK (no-op providers)",
            "aioglue-otelsdk": "SDK configured: batch span processor, periodic metric reader",
        }
        for kind in OTEL_VARIANTS:
            cpu = otel[kind]["cpu_us_per_lookup"]
            imported = imports.get(kind, {}).get("import_ms")
            import_cell = "-" if imported is None else f"{imported:.0f}"
            extra = "-" if kind == "aioglue-nootel" else f"{cpu - base:+.1f}"
            lines.append(
                f"| {names[kind]} | {cpu:.1f} | {ratio(cpu, base)} | {extra} | {import_cell} |"
            )
        spans = otel["aioglue-otelsdk"].get("spans_exported")
        if spans is not None:
            lines += ["", f"Spans exported in the SDK run (warm-up included): {spans:,.0f}."]
    return "\n".join(lines)


def hot_served_cpu(report: dict[str, Any]) -> tuple[float, float] | None:
    """(CPU per call with its own request, CPU per call served without one), in µs."""
    hot = report.get("hot")
    if not hot:
        return None
    per_request = hot["hot"]["cpu_us_per_lookup"]
    shared = hot["hot-max-age"]
    calls, requests = HOT_LOOKUPS, shared["requests"]
    if calls <= requests:
        return None
    total = shared["cpu_us_per_lookup"] * calls
    return per_request, (total - requests * per_request) / (calls - requests)


def plot(report: dict[str, Any], folder: Path, docs: bool = False) -> list[Path]:
    """``throughput.png`` in ``folder`` and, with ``docs``, in docs/images/; the paths written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install -e '.[bench]')")
        return []
    labels = {
        "aioglue": "aioglue-session",
        "aiobotocore": "aiobotocore",
        "floor": "floor: bare aiohttp",
    }
    sweep = report["settings"]["sweep"]
    transports = [t for t in report["settings"]["transports"] if t in report["throughput"]]
    fig, axes = plt.subplots(
        1, len(transports), figsize=(6 * len(transports), 4.2), dpi=110, sharey=True, squeeze=False
    )
    for ax, transport in zip(axes[0], transports, strict=True):
        by_c = report["throughput"][transport]
        for kind in report["clients"]:
            xs = [c for c in sweep if str(c) in by_c]
            ys = [by_c[str(c)][kind]["lookups_per_s"] for c in xs]
            ax.plot(xs, ys, marker="o", label=labels[kind])
        ax.set_xscale("log", base=2)
        ax.set_xticks(sweep, [str(c) for c in sweep])
        ax.set_xlabel("concurrency (lookups in flight)")
        ax.set_title(label_of(transport))
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("lookups per second")
    axes[0][0].legend()
    fig.suptitle("GetSession against a local endpoint (separate process)")
    fig.tight_layout()
    from figures import save

    written = save(fig, "throughput.png", folder) if docs else save_one(fig, folder)
    plt.close(fig)
    return written


def save_one(fig: Any, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    fig.savefig(folder / "throughput.png", metadata={"Software": None})
    return [folder / "throughput.png"]


if __name__ == "__main__":
    main()
