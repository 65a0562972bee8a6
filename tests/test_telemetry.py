"""OpenTelemetry: spans, retry events and metrics, read back through the SDK's in-memory
exporter and reader, against the local fault server.

In this process the global providers are never set (they can be set once per process); tests of
the global providers, of configuring OpenTelemetry after a client opened, and of running without
opentelemetry-api installed each run a script in a fresh interpreter.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from conftest import InstantSleep, assert_no_leaks
from faultserver import (
    JSON_TYPE,
    FaultServer,
    not_found,
    ok,
    raw,
    server_error,
    session_document,
    skewed,
    stall,
    throttle,
)
from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aioglue_session import GlueSessionClient, RetryConfig, SessionStatus, Timeouts, errors
from aioglue_session.transport import AiohttpTransport, MockTransport, RawReply

#: Whether this opentelemetry-api takes histogram bucket advice (1.30 and later).
HISTOGRAM_ADVICE = (
    "explicit_bucket_boundaries_advisory" in inspect.signature(Meter.create_histogram).parameters
)

KEY, SECRET, TOKEN = "AKIDOTELTEST", "otel-secret-value-1234567890", "otel-session-token-abcdef"


class Otel:
    """An SDK tracer provider and meter provider that keep everything in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.tracer = self.tracer_provider.get_tracer("tests")

    def spans(self, name: str = "Glue.GetSession") -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if s.name == name]

    def points(self, metric: str) -> list[Any]:
        """The data points of ``metric`` in a fresh collection."""
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for m in scope.metrics:
                    if m.name == metric:
                        found.extend(m.data.data_points)
        return found

    def providers(self) -> dict[str, Any]:
        return {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider}


@pytest.fixture
def otel() -> Iterator[Otel]:
    t = Otel()
    yield t
    t.tracer_provider.shutdown()
    t.meter_provider.shutdown()


def client(url: str, otel: Otel | None = None, **kw: Any) -> GlueSessionClient:
    kw.setdefault("timeouts", Timeouts(connect=1, read=1))
    kw.setdefault("sleep", InstantSleep())
    if otel is not None:
        kw.update(otel.providers())
    return GlueSessionClient(
        endpoint_url=url,
        region="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        aws_session_token=TOKEN,
        **kw,
    )


@pytest.fixture
async def glue(fault_server: FaultServer, otel: Otel) -> AsyncIterator[GlueSessionClient]:
    async with client(fault_server.url, otel) as g:
        yield g
        assert_no_leaks(g)


def ok_with_id(request_id: str, session_id: str = "s-1", status: str = "READY") -> Any:
    body = json.dumps({"Session": session_document(session_id, status)}).encode()
    return raw(200, {"x-amzn-RequestId": request_id, "Content-Type": JSON_TYPE}, body)


def events(span: ReadableSpan) -> list[dict[str, Any]]:
    return [{"name": e.name, **dict(e.attributes or {})} for e in span.events]


# --- one call, one span ---------------------------------------------------------------------------


async def test_a_successful_call_is_one_client_span_with_the_aws_sdk_attributes(
    glue: GlueSessionClient, fault_server: FaultServer, otel: Otel
) -> None:
    fault_server.script([ok_with_id("rid-ok-1")])
    await glue.get_session("s-1")
    [span] = otel.spans()
    assert span.kind is SpanKind.CLIENT
    assert span.parent is None
    port = int(fault_server.url.rsplit(":", 1)[1])
    assert dict(span.attributes or {}) == {
        "rpc.system": "aws-api",
        "rpc.service": "Glue",
        "rpc.method": "GetSession",
        "cloud.region": "us-east-1",
        "server.address": "127.0.0.1",
        "server.port": port,
        "aws.request_id": "rid-ok-1",
        "http.response.status_code": 200,
    }
    assert span.status.status_code is StatusCode.UNSET
    assert span.events == ()
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "aioglue_session"


async def test_the_endpoint_rules_endpoint_gives_server_address_and_default_port(
    otel: Otel,
) -> None:
    body = json.dumps({"Session": session_document("s-1")}).encode()
    transport = MockTransport(lambda request: RawReply(200, {"x-amzn-RequestId": "r-1"}, body))
    async with GlueSessionClient(
        region="eu-west-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        transport=transport,
        **otel.providers(),
    ) as glue:
        await glue.get_session("s-1")
    [span] = otel.spans()
    assert span.attributes is not None
    assert span.attributes["server.address"] == "glue.eu-west-1.amazonaws.com"
    assert span.attributes["server.port"] == 443
    assert span.attributes["cloud.region"] == "eu-west-1"


async def test_retries_are_events_on_the_one_span(fault_server: FaultServer, otel: Otel) -> None:
    sleep = InstantSleep()
    async with client(fault_server.url, otel, sleep=sleep) as glue:
        fault_server.script([throttle(), server_error(503), ok_with_id("rid-last")])
        await glue.get_session("s-1")
    [span] = otel.spans()
    evs = events(span)
    assert [e["name"] for e in evs] == ["retry", "retry"]
    assert [e["aioglue_session.retry.attempt"] for e in evs] == [1, 2]
    assert [e["error.type"] for e in evs] == ["ThrottlingException", "ServiceUnavailableException"]
    assert [e["http.response.status_code"] for e in evs] == [400, 503]
    assert [e["aioglue_session.retry.delay"] for e in evs] == sleep.delays  # what was slept
    assert all(e["aws.request_id"] for e in evs)
    # The span describes the last reply, not the failed ones.
    assert span.attributes is not None
    assert span.attributes["aws.request_id"] == "rid-last"
    assert span.attributes["http.response.status_code"] == 200
    assert span.status.status_code is StatusCode.UNSET


async def test_an_immediate_clock_skew_retry_is_an_event_with_no_delay(
    glue: GlueSessionClient, fault_server: FaultServer, otel: Otel
) -> None:
    fault_server.script([skewed(3600), ok()])
    await glue.get_session("s-1")
    [span] = otel.spans()
    [event] = events(span)
    assert event["error.type"] == "InvalidSignatureException"
    assert event["aioglue_session.retry.attempt"] == 1
    assert event["aioglue_session.retry.delay"] == 0.0


async def test_spans_started_during_the_call_nest_under_its_span(
    fault_server: FaultServer, otel: Otel
) -> None:
    # What an instrumented HTTP client does: start a span around each request it sends.
    class TracedTransport(AiohttpTransport):
        async def send(self, *args: Any) -> RawReply:
            with otel.tracer.start_as_current_span("POST"):
                return await super().send(*args)

    async with client(fault_server.url, otel, transport=TracedTransport()) as glue:
        fault_server.script([throttle()])
        await glue.get_session("s-1")
    [call] = otel.spans()
    posts = otel.spans("POST")
    assert len(posts) == 2  # the throttled attempt and its retry
    assert call.context is not None
    assert {p.parent.span_id if p.parent else None for p in posts} == {call.context.span_id}


# --- failures -------------------------------------------------------------------------------------


async def test_an_error_reply_sets_status_error_type_and_records_the_exception(
    glue: GlueSessionClient, fault_server: FaultServer, otel: Otel
) -> None:
    fault_server.script([not_found("s-404")])
    with pytest.raises(errors.EntityNotFoundException) as info:
        await glue.get_session("s-404")
    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "EntityNotFoundException"
    assert span.attributes["http.response.status_code"] == 400
    assert span.attributes["aws.request_id"] == info.value.request_id
    [exception] = [e for e in span.events if e.name == "exception"]
    assert exception.attributes is not None
    assert exception.attributes["exception.type"].endswith("EntityNotFoundException")
    assert "s-404 not found" in str(exception.attributes["exception.message"])


async def test_a_network_failure_after_retries_is_its_exception_class(otel: Otel) -> None:
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with client(f"http://127.0.0.1:{port}", otel) as glue:
        with pytest.raises(EndpointConnectionError):
            await glue.get_session("s-1")
    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "EndpointConnectionError"
    assert "http.response.status_code" not in span.attributes  # no reply came back
    assert [e["error.type"] for e in events(span) if e["name"] == "retry"] == [
        "EndpointConnectionError",
        "EndpointConnectionError",
    ]
    [duration] = otel.points("rpc.client.call.duration")
    assert duration.attributes["error.type"] == "EndpointConnectionError"


async def test_a_cancelled_call_is_recorded_as_cancelled(
    glue: GlueSessionClient, fault_server: FaultServer, otel: Otel
) -> None:
    fault_server.script([stall(5)])
    task = asyncio.create_task(glue.get_session("s-1"))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [span] = otel.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "cancelled"
    assert span.attributes is not None
    assert span.attributes["error.type"] == "CancelledError"
    assert [e.name for e in span.events] == []  # abandoned, not failed: no traceback kept
    [duration] = otel.points("rpc.client.call.duration")
    assert duration.attributes["error.type"] == "CancelledError"


async def test_a_call_cut_short_by_close_is_a_client_closed_error(
    fault_server: FaultServer, otel: Otel
) -> None:
    glue = client(fault_server.url, otel)
    await glue.open()
    fault_server.script([stall(5)])
    task = asyncio.create_task(glue.get_session("s-1"))
    await asyncio.sleep(0.2)
    await glue.close()
    with pytest.raises(errors.ClientClosedError):
        await task
    [span] = otel.spans()
    assert span.attributes is not None
    assert span.attributes["error.type"] == "ClientClosedError"
    assert span.status.status_code is StatusCode.ERROR


# --- parents --------------------------------------------------------------------------------------


async def test_bulk_lookups_are_children_of_the_callers_span(
    glue: GlueSessionClient, fault_server: FaultServer, otel: Otel
) -> None:
    fault_server.script([throttle(), throttle()])
    ids = [f"s-{i}" for i in range(100)]
    with otel.tracer.start_as_current_span("nightly batch") as parent:
        # concurrency above the 64 workers started per loop turn: the later ones too.
        results = [r async for r in glue.get_sessions(ids, concurrency=80)]
    assert all(r.ok for r in results)
    spans = otel.spans()
    assert len(spans) == 100
    context = parent.get_span_context()
    assert {s.parent.span_id if s.parent else None for s in spans} == {context.span_id}
    assert {s.context.trace_id for s in spans if s.context} == {context.trace_id}
    assert sum(len(s.events) for s in spans) == 2  # the two throttles, each on its lookup's span


async def test_waiter_polls_are_children_of_a_waiter_span_under_the_callers(
    glue: GlueSessionClient, fault_server: FaultServer, otel: Otel
) -> None:
    fault_server.script([ok("PROVISIONING"), ok("PROVISIONING"), ok("READY")])
    with otel.tracer.start_as_current_span("deploy") as parent:
        session = await glue.wait_for_session("s-1", poll_interval=0.01)
    assert session.status is SessionStatus.READY
    [wait] = otel.spans("GlueSessionClient.wait_for_session")
    assert wait.kind is SpanKind.INTERNAL
    assert wait.parent is not None
    assert wait.parent.span_id == parent.get_span_context().span_id
    assert wait.context is not None
    polls = otel.spans()
    assert len(polls) == 3
    assert {p.parent.span_id if p.parent else None for p in polls} == {wait.context.span_id}
    assert dict(wait.attributes or {}) == {
        "cloud.region": "us-east-1",
        "aioglue_session.wait.until": ("READY",),
        "aioglue_session.wait.timeout": 600.0,
        "aioglue_session.wait.polls": 3,
        "aioglue_session.session.status": "READY",
    }
    assert wait.status.status_code is StatusCode.UNSET


class FakeTime:
    """A clock that the client's sleeps move forward (signing dates are not checked here)."""

    def __init__(self) -> None:
        self.now = time.time()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def test_a_waiter_timeout_is_recorded_as_a_timeout(
    fault_server: FaultServer, otel: Otel
) -> None:
    fake = FakeTime()
    fault_server.default = ok("PROVISIONING")
    async with client(fault_server.url, otel, clock=fake.clock, sleep=fake.sleep) as glue:
        with pytest.raises(errors.WaiterError):
            await glue.wait_for_session("s-1", timeout=20, poll_interval=5)
    [wait] = otel.spans("GlueSessionClient.wait_for_session")
    assert wait.status.status_code is StatusCode.ERROR
    assert wait.attributes is not None
    assert wait.attributes["error.type"] == "timeout"
    assert wait.attributes["aioglue_session.session.status"] == "PROVISIONING"
    assert wait.attributes["aioglue_session.wait.polls"] == len(otel.spans()) >= 4
    assert all(p.status.status_code is StatusCode.UNSET for p in otel.spans())


async def test_a_waiter_reaching_an_unwanted_terminal_status_is_a_waiter_error(
    glue: GlueSessionClient, fault_server: FaultServer, otel: Otel
) -> None:
    fault_server.script([ok("PROVISIONING"), ok("FAILED")])
    with pytest.raises(errors.WaiterError):
        await glue.wait_for_session("s-1", poll_interval=0.01)
    [wait] = otel.spans("GlueSessionClient.wait_for_session")
    assert wait.attributes is not None
    assert wait.attributes["error.type"] == "WaiterError"
    assert wait.attributes["aioglue_session.session.status"] == "FAILED"
    assert wait.status.status_code is StatusCode.ERROR
    assert [e.name for e in wait.events] == ["exception"]


async def test_a_cancelled_waiter_is_recorded_as_cancelled(
    fault_server: FaultServer, otel: Otel
) -> None:
    fault_server.default = ok("PROVISIONING")
    # Real sleeps, so the waiter is still running when cancelled.
    async with client(fault_server.url, otel, sleep=asyncio.sleep) as glue:
        task = asyncio.create_task(glue.wait_for_session("s-1", poll_interval=10))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    [wait] = otel.spans("GlueSessionClient.wait_for_session")
    assert wait.attributes is not None
    assert wait.attributes["error.type"] == "CancelledError"
    assert wait.status.description == "cancelled"


# --- metrics --------------------------------------------------------------------------------------


async def test_call_duration_and_retries_are_measured(
    glue: GlueSessionClient, fault_server: FaultServer, otel: Otel
) -> None:
    fault_server.script([throttle(), throttle(), ok(), server_error(500), ok(), not_found()])
    started = time.perf_counter()
    await glue.get_session("s-1")
    await glue.get_session("s-2")
    with pytest.raises(errors.EntityNotFoundException):
        await glue.get_session("s-3")
    elapsed = time.perf_counter() - started
    durations = {p.attributes.get("error.type"): p for p in otel.points("rpc.client.call.duration")}
    assert set(durations) == {None, "EntityNotFoundException"}
    assert durations[None].count == 2
    assert durations["EntityNotFoundException"].count == 1
    assert 0 < durations[None].sum + durations["EntityNotFoundException"].sum <= elapsed
    base = {
        "rpc.system": "aws-api",
        "rpc.service": "Glue",
        "rpc.method": "GetSession",
        "server.address": "127.0.0.1",
        "server.port": int(fault_server.url.rsplit(":", 1)[1]),
    }
    assert dict(durations[None].attributes) == base
    # Buckets in seconds where the API takes the advice (1.30 on); older APIs get the defaults.
    seconds = [0.005, 0.01, 0.025] if HISTOGRAM_ADVICE else [0.0, 5.0, 10.0]
    assert list(durations[None].explicit_bounds)[:3] == seconds
    retries = {p.attributes["error.type"]: p.value for p in otel.points("aioglue_session.retries")}
    assert retries == {"ThrottlingException": 2, "InternalServiceException": 1}


async def test_an_opentelemetry_api_without_histogram_advice_still_gets_durations(
    fault_server: FaultServer, otel: Otel
) -> None:
    # opentelemetry-api before 1.30 has no explicit_bucket_boundaries_advisory parameter.
    class OldMeter:
        def __init__(self, meter: Any) -> None:
            self._meter = meter

        def create_histogram(self, name: str, unit: str = "", description: str = "") -> Any:
            return self._meter.create_histogram(name, unit=unit, description=description)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._meter, name)

    class OldMeterProvider:
        def get_meter(self, name: str, *args: Any, **kw: Any) -> OldMeter:
            return OldMeter(otel.meter_provider.get_meter(name, *args, **kw))

    async with client(
        fault_server.url,
        tracer_provider=otel.tracer_provider,
        meter_provider=OldMeterProvider(),
    ) as glue:
        await glue.get_session("s-1")
    [duration] = otel.points("rpc.client.call.duration")
    assert duration.count == 1
    assert list(duration.explicit_bounds)[:3] == [0.0, 5.0, 10.0]  # the SDK's defaults


async def test_calls_in_flight_are_observed_and_return_to_zero(
    glue: GlueSessionClient, fault_server: FaultServer, otel: Otel
) -> None:
    fault_server.script([stall(0.5), stall(0.5), stall(0.5)])
    tasks = [asyncio.create_task(glue.get_session(f"s-{i}")) for i in range(3)]
    await asyncio.sleep(0.2)
    [active] = otel.points("aioglue_session.calls.active")
    assert active.value == 3
    await asyncio.gather(*tasks)
    [active] = otel.points("aioglue_session.calls.active")
    assert active.value == 0
    assert active.attributes["server.address"] == "127.0.0.1"


async def test_the_adaptive_send_rate_is_a_gauge_once_throttling_starts(
    fault_server: FaultServer, otel: Otel
) -> None:
    async with client(fault_server.url, otel, retry=RetryConfig(mode="adaptive")) as glue:
        await glue.get_session("s-1")
        assert otel.points("aioglue_session.adaptive.send_rate") == []  # not limiting yet
        fault_server.script([throttle()])
        await glue.get_session("s-2")
        [rate] = otel.points("aioglue_session.adaptive.send_rate")
        assert glue.send_rate is not None
        assert rate.value == pytest.approx(glue.send_rate)
        assert rate.attributes["rpc.method"] == "GetSession"
    assert otel.points("aioglue_session.adaptive.send_rate") == []  # closed: no longer watched


async def test_every_adaptive_client_on_one_meter_provider_is_observed(
    fault_server: FaultServer, otel: Otel
) -> None:
    # An SDK meter keeps the first observable gauge of a name and drops a second one's
    # callbacks: both clients must still report (one by 127.0.0.1, one by localhost).
    port = fault_server.url.rsplit(":", 1)[1]
    adaptive = RetryConfig(mode="adaptive")
    async with (
        client(fault_server.url, otel, retry=adaptive) as a,
        client(f"http://localhost:{port}", otel, retry=adaptive) as b,
    ):
        fault_server.script([throttle()])
        await a.get_session("s-1")
        fault_server.script([throttle()])
        await b.get_session("s-1")
        rates = {
            p.attributes["server.address"]: p.value
            for p in otel.points("aioglue_session.adaptive.send_rate")
        }
    assert rates == {
        "127.0.0.1": pytest.approx(a.send_rate),
        "localhost": pytest.approx(b.send_rate),
    }


async def test_standard_mode_reports_no_send_rate(
    glue: GlueSessionClient, fault_server: FaultServer, otel: Otel
) -> None:
    fault_server.script([throttle()])
    await glue.get_session("s-1")
    assert otel.points("aioglue_session.adaptive.send_rate") == []


# --- nothing secret -------------------------------------------------------------------------------


async def test_no_credential_token_or_signature_reaches_a_span_or_metric(
    glue: GlueSessionClient, fault_server: FaultServer, otel: Otel
) -> None:
    fault_server.script([throttle(), ok(), skewed(600), ok(), not_found()])
    await glue.get_session("s-1")
    await glue.get_session("s-2")
    with pytest.raises(errors.GlueError):
        await glue.get_session("s-3")
    await glue.wait_for_session("s-4")
    spans = otel.exporter.get_finished_spans()
    assert len(spans) == 5
    sent = fault_server.requests[0].headers
    assert TOKEN in sent["X-Amz-Security-Token"] and KEY in sent["Authorization"]
    signature = sent["Authorization"].rsplit("Signature=", 1)[1]
    dumped = "\n".join(s.to_json() for s in spans)
    data = otel.reader.get_metrics_data()
    assert data is not None
    dumped += data.to_json()
    for secret in (KEY, SECRET, TOKEN, signature, "Signature=", "Credential="):
        assert secret not in dumped


# --- providers ------------------------------------------------------------------------------------


def run_script(source: str) -> dict[str, Any]:
    """Run ``source`` in a fresh interpreter; it prints one JSON object last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


MOCK_CLIENT = """
    import asyncio, json, sys
    from aioglue_session import GlueSessionClient
    from aioglue_session.transport import MockTransport, RawReply

    BODY = b'{"Session": {"Id": "s-1", "Status": "READY"}}'

    def handler(request):
        return RawReply(200, {"x-amzn-RequestId": "rid-mock"}, BODY)

    def glue(**kw):
        return GlueSessionClient(
            region="us-east-1", aws_access_key_id="AKIDMOCK", aws_secret_access_key="secret",
            transport=MockTransport(handler), **kw,
        )
"""

SDK = """
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    def sdk():
        exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
        tp = TracerProvider()
        tp.add_span_processor(SimpleSpanProcessor(exporter))
        return tp, MeterProvider(metric_readers=[reader]), exporter, reader

    def calls(reader):
        data = reader.get_metrics_data()
        return sum(
            p.count
            for r in (data.resource_metrics if data else ())
            for s in r.scope_metrics
            for m in s.metrics
            if m.name == "rpc.client.call.duration"
            for p in m.data.data_points
        )
"""


def test_the_global_providers_are_used_with_no_code() -> None:
    result = run_script(
        MOCK_CLIENT
        + SDK
        + """
    tp, mp, exporter, reader = sdk()
    trace.set_tracer_provider(tp)
    metrics.set_meter_provider(mp)

    async def main():
        async with glue() as g:
            await g.get_session("s-1")

    asyncio.run(main())
    spans = exporter.get_finished_spans()
    print(json.dumps({
        "spans": [s.name for s in spans],
        "request_id": spans[0].attributes["aws.request_id"],
        "calls": calls(reader),
    }))
    """
    )
    assert result == {"spans": ["Glue.GetSession"], "request_id": "rid-mock", "calls": 1}


def test_opentelemetry_configured_after_the_client_opened_is_picked_up() -> None:
    result = run_script(
        MOCK_CLIENT
        + SDK
        + """
    tp, mp, exporter, reader = sdk()

    async def main():
        async with glue() as g:
            await g.get_session("s-1")          # no SDK yet: nothing recorded
            trace.set_tracer_provider(tp)
            metrics.set_meter_provider(mp)
            await g.get_session("s-1")
            await g.get_session("s-1")

    asyncio.run(main())
    print(json.dumps({"spans": len(exporter.get_finished_spans()), "calls": calls(reader)}))
    """
    )
    assert result == {"spans": 2, "calls": 2}


LATE_SDK = f"""
    SDK_SOURCE = {textwrap.dedent(SDK)!r}

    def late_sdk():
        # Import and configure OpenTelemetry now, as an application may after start-up.
        namespace = {{}}
        exec(SDK_SOURCE, namespace)
        tp, mp, exporter, reader = namespace["sdk"]()
        namespace["trace"].set_tracer_provider(tp)
        namespace["metrics"].set_meter_provider(mp)
        return exporter, lambda: namespace["calls"](reader)
"""


def test_opentelemetry_imported_after_the_client_opened_is_set_up_at_the_next_call() -> None:
    # Nothing imported OpenTelemetry when the client opened, so neither did the client; the
    # application imports and configures it later, and the next calls are traced.
    result = run_script(
        MOCK_CLIENT
        + LATE_SDK
        + """
    async def main():
        async with glue() as g:
            await g.get_session("s-1")
            await g.wait_for_session("s-1")
            before = sorted(m for m in sys.modules if "opentelemetry" in m or "telemetry" in m)
            exporter, calls = late_sdk()
            await g.get_session("s-1")
            await g.wait_for_session("s-1")
            return before, [s.name for s in exporter.get_finished_spans()], calls()

    before, spans, calls = asyncio.run(main())
    print(json.dumps({"before": before, "spans": spans, "calls": calls}))
    """
    )
    assert result == {
        "before": [],
        "spans": ["Glue.GetSession", "Glue.GetSession", "GlueSessionClient.wait_for_session"],
        "calls": 2,
    }


def test_a_waiter_is_traced_once_opentelemetry_is_imported() -> None:
    # The first call after the import is a waiter: its span, and its poll's span under it.
    result = run_script(
        MOCK_CLIENT
        + LATE_SDK
        + """
    async def main():
        async with glue() as g:
            await g.get_session("s-1")
            exporter, calls = late_sdk()
            await g.wait_for_session("s-1")
            spans = exporter.get_finished_spans()
            return [s.name for s in spans], spans[0].parent.span_id == spans[1].context.span_id

    print(json.dumps(asyncio.run(main())))
    """
    )
    assert result == [["Glue.GetSession", "GlueSessionClient.wait_for_session"], True]


def test_opentelemetry_is_not_imported_when_the_application_does_not_use_it() -> None:
    # Installed, but not imported by the application, no provider passed, none in the
    # environment: opening the client and calling it import nothing of it.
    result = run_script(
        MOCK_CLIENT
        + """
    async def main():
        async with glue() as g:
            await g.get_session("s-1")
            await g.wait_for_session("s-1")
            return [r.ok async for r in g.get_sessions(["s-1", "s-2"])]

    bulk = asyncio.run(main())
    print(json.dumps({
        "bulk": bulk,
        "loaded": sorted(m for m in sys.modules if m.startswith("opentelemetry")),
        "telemetry_module": "aioglue_session.telemetry" in sys.modules,
    }))
    """
    )
    assert result == {"bulk": [True, True], "loaded": [], "telemetry_module": False}


def test_a_provider_in_the_environment_sets_telemetry_up_at_open() -> None:
    # OTEL_PYTHON_TRACER_PROVIDER names the global provider OpenTelemetry loads at first use:
    # the client sets telemetry up when it opens, and its calls are traced with no code.
    result = run_script(
        """
    import os
    os.environ["OTEL_PYTHON_TRACER_PROVIDER"] = "sdk_tracer_provider"
    """
        + MOCK_CLIENT
        + """
    async def main():
        async with glue() as g:
            opened = "aioglue_session.telemetry" in sys.modules
            await g.get_session("s-1")
        from opentelemetry import trace
        return opened, type(trace.get_tracer_provider()).__module__

    opened, provider = asyncio.run(main())
    print(json.dumps({"opened": opened, "provider": provider}))
    """
    )
    assert result == {"opened": True, "provider": "opentelemetry.sdk.trace"}


def test_explicit_providers_override_the_global_ones() -> None:
    result = run_script(
        MOCK_CLIENT
        + SDK
        + """
    global_tp, global_mp, global_exporter, global_reader = sdk()
    trace.set_tracer_provider(global_tp)
    metrics.set_meter_provider(global_mp)
    tp, mp, exporter, reader = sdk()

    async def main():
        async with glue(tracer_provider=tp, meter_provider=mp) as g:
            await g.get_session("s-1")
        async with glue(tracer_provider=tp) as g:  # metrics still go to the global provider
            await g.get_session("s-1")

    asyncio.run(main())
    print(json.dumps({
        "explicit": [len(exporter.get_finished_spans()), calls(reader)],
        "global": [len(global_exporter.get_finished_spans()), calls(global_reader)],
    }))
    """
    )
    assert result == {"explicit": [2, 1], "global": [0, 1]}


def test_without_an_sdk_nothing_is_recorded_and_calls_work() -> None:
    # opentelemetry-api installed, no SDK configured: the proxies, and no span started.
    result = run_script(
        MOCK_CLIENT
        + """
    from unittest import mock
    from opentelemetry.trace import ProxyTracer

    async def main():
        async with glue() as g:
            with mock.patch.object(ProxyTracer, "start_span") as start_span:
                session = await g.get_session("s-1")
                await g.wait_for_session("s-1")
            return session.id, start_span.call_count

    print(json.dumps(list(asyncio.run(main()))))
    """
    )
    assert result == ["s-1", 0]


BLOCKED = """
    import importlib.abc, sys

    class NotInstalled(importlib.abc.MetaPathFinder):
        # As if opentelemetry were not installed, and remember who asked for it.
        asked = []

        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                NotInstalled.asked.append(name)
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
"""


def test_without_opentelemetry_nothing_is_imported_or_recorded() -> None:
    result = run_script(
        BLOCKED
        + MOCK_CLIENT
        + """
    async def main():
        async with glue() as g:
            session = await g.get_session("s-1")
            await g.wait_for_session("s-1")
            results = [r.ok async for r in g.get_sessions(["s-1", "s-2"])]
        async with glue() as g:  # a second client does not try the import again
            await g.get_session("s-1")
        return session.id, results

    sid, results = asyncio.run(main())
    print(json.dumps({
        "id": sid,
        "bulk": results,
        "loaded": sorted(m for m in sys.modules if m.startswith("opentelemetry")),
        "telemetry_module": "aioglue_session.telemetry" in sys.modules,
        "asked": NotInstalled.asked,
    }))
    """
    )
    assert result == {
        "id": "s-1",
        "bulk": [True, True],
        "loaded": [],
        "telemetry_module": False,
        "asked": ["opentelemetry"],  # once, when the first client opened
    }


def test_with_the_opentelemetry_import_set_to_none_calls_work() -> None:
    result = run_script(
        """
    import sys
    sys.modules["opentelemetry"] = None
    """
        + MOCK_CLIENT
        + """
    async def main():
        async with glue() as g:
            return (await g.get_session("s-1")).id

    sid = asyncio.run(main())
    loaded = [m for m, mod in sys.modules.items() if m.startswith("opentelemetry") and mod]
    print(json.dumps({"id": sid, "loaded": loaded}))
    """
    )
    assert result == {"id": "s-1", "loaded": []}
