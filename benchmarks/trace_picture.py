"""The spans of a throttled bulk run, drawn as a timeline: ``docs/images/trace-throttled-bulk.png``.

    pip install -e ".[bench]"
    python benchmarks/trace_picture.py

Six lookups with ``get_sessions(ids, concurrency=3)`` inside a ``nightly-report`` span, against a
local Glue-like endpoint (an aiohttp server on a free 127.0.0.1 port) that answers by session id:
``etl-2``, ``etl-5`` and ``etl-6`` are throttled once, ``etl-3`` gets one 503, ``etl-4`` does not
exist, every other request is answered with its session. The spans are recorded by the
OpenTelemetry SDK (an in-memory exporter) and drawn one bar per span, each event (a retry, an
exception) a mark on its span; the same spans are printed one per line, as docs/tracing.md shows
them. The backoff delays are botocore's (random), so each run draws a slightly different picture.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from faultserver import JSON_TYPE, session_document  # noqa: E402

from aioglue_session import GlueSessionClient  # noqa: E402

IDS = [f"etl-{n}" for n in range(1, 7)]
# Per id, the error replies its first attempts get (code, HTTP status); then the session.
FAULTS: dict[str, list[tuple[str, int]]] = {
    "etl-2": [("ThrottlingException", 400)],
    "etl-3": [("ServiceUnavailableException", 503)],
    "etl-4": [("EntityNotFoundException", 400)] * 9,
    "etl-5": [("ThrottlingException", 400)],
    "etl-6": [("ThrottlingException", 400)],
}
NAME = "trace-throttled-bulk.png"
FAULTS_LEFT = web.AppKey("faults_left", dict[str, list[tuple[str, int]]])


async def glue_endpoint(request: web.Request) -> web.Response:
    session_id = json.loads(await request.read())["Id"]
    headers = {"x-amzn-RequestId": str(uuid.uuid4())}
    faults = request.app[FAULTS_LEFT].get(session_id)
    if faults:
        code, status = faults.pop(0)
        message = f"Session {session_id} not found" if code.startswith("Entity") else code
        body = {"__type": f"com.amazonaws.glue#{code}", "message": message}
        return web.Response(
            status=status, body=json.dumps(body), content_type=JSON_TYPE, headers=headers
        )
    return web.Response(
        body=json.dumps({"Session": session_document(session_id)}),
        content_type=JSON_TYPE,
        headers=headers,
    )


async def record() -> list[Any]:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "nightly-report"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = web.Application()
    app[FAULTS_LEFT] = {key: list(value) for key, value in FAULTS.items()}
    app.router.add_post("/", glue_endpoint)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with GlueSessionClient(
            region="eu-west-1",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="not-a-secret",
            tracer_provider=provider,
        ) as glue:
            tracer = provider.get_tracer("nightly-report")
            with tracer.start_as_current_span("nightly-report"):
                async for _ in glue.get_sessions(IDS, concurrency=3):
                    pass
    finally:
        await runner.cleanup()
    provider.shutdown()
    return list(exporter.get_finished_spans())


def ordered(spans: list[Any]) -> tuple[Any, list[Any]]:
    [root] = [s for s in spans if s.parent is None]
    children = sorted((s for s in spans if s.parent is not None), key=lambda s: s.start_time)
    return root, children


def result_of(span: Any) -> str:
    attributes = span.attributes or {}
    text = f"HTTP {attributes.get('http.response.status_code', '?')}"
    if span.status.status_code.name == "ERROR":
        text += f" {attributes.get('error.type', 'ERROR')}"
    return text


def event_text(event: Any) -> str:
    attributes = event.attributes or {}
    if event.name == "retry":
        delay = float(attributes.get("aioglue_session.retry.delay", 0))
        return f"{attributes.get('error.type')}: retry in {delay * 1000:.0f} ms"
    return str(attributes.get("exception.type", event.name)).rpartition(".")[2]


def render_text(spans: list[Any]) -> str:
    root, children = ordered(spans)
    t0 = root.start_time
    lines = [f"{'span':<20}{'id':<8}{'start':>9}{'duration':>10}  result"]
    for span in [root, *children]:
        name = span.name if span is root else f"  {span.name}"
        start = (span.start_time - t0) / 1e6
        duration = (span.end_time - span.start_time) / 1e6
        result = "" if span is root else result_of(span)
        span_id = f"{span.context.span_id:016x}"[:6]
        lines.append(f"{name:<20}{span_id:<8}{start:>7.1f}ms{duration:>8.1f}ms  {result}")
        for event in span.events:
            at = (event.timestamp - t0) / 1e6
            lines.append(f"    · {event_text(event)} (+{at:.1f}ms)")
    return "\n".join(lines)


def draw(spans: list[Any]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    root, children = ordered(spans)
    t0 = root.start_time
    rows = [root, *children]
    fig, ax = plt.subplots(figsize=(10, 1.0 + 0.55 * len(rows)), dpi=110)
    for y, span in enumerate(rows):
        start = (span.start_time - t0) / 1e6
        width = max((span.end_time - span.start_time) / 1e6, 0.5)
        failed = span.status.status_code.name == "ERROR"
        color = "#9e9e9e" if span is root else "#d32f2f" if failed else "#1976d2"
        ax.barh(y, width, left=start, height=0.55, color=color)
        label = "nightly-report" if span is root else f"GetSession {result_of(span)}"
        ax.text(start + width + 6, y, label, va="center", fontsize=8.5)
        for event in span.events:
            at = (event.timestamp - t0) / 1e6
            retry = event.name == "retry"
            if retry:  # the backoff: no request on the wire until the next attempt
                delay = float((event.attributes or {}).get("aioglue_session.retry.delay", 0))
                ax.barh(y, delay * 1000, left=at, height=0.55, color="#bbdefb")
            ax.plot(
                at,
                y,
                marker="v" if retry else "x",
                color="#f57c00" if retry else "black",
                markersize=9,
                markeredgewidth=2,
            )
            ax.text(
                at,
                y - 0.38,
                event_text(event),
                fontsize=7.5,
                ha="left",
                va="bottom",
                color="#e65100" if retry else "black",
            )
    names = ["your span"] + [f"lookup {n}" for n in range(1, len(children) + 1)]
    ax.set_yticks(range(len(rows)), names)
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(color="#1976d2", label="attempts (request on the wire)"),
            Patch(color="#bbdefb", label="backoff chosen by botocore"),
            Patch(color="#d32f2f", label="failed lookup"),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=3,
        fontsize=8.5,
        frameon=False,
    )
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds since nightly-report started")
    end = (root.end_time - t0) / 1e6
    ax.set_xlim(-end * 0.01, end * 1.22)
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(
        "get_sessions(6 ids, concurrency=3) inside a span: one span per lookup, "
        "each retry an event on it",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def main() -> None:
    spans = asyncio.run(record())
    print(render_text(spans))
    sys.path.insert(0, str(HERE))
    from figures import save

    for path in save(draw(spans), NAME):
        print(f"\nfigure: {path}")


if __name__ == "__main__":
    main()
