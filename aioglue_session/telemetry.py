"""OpenTelemetry: a ``CLIENT`` span per ``GetSession`` call, an event per retry, five instruments.

The client imports this module only when ``opentelemetry-api`` is installed
(``pip install aioglue-session[otel]``); without it nothing here is loaded and nothing is
recorded. It imports it when it opens if the application has imported OpenTelemetry, passed a
provider, or names one in ``OTEL_PYTHON_TRACER_PROVIDER`` / ``OTEL_PYTHON_METER_PROVIDER``;
otherwise at the first call after the application imports OpenTelemetry (until then nothing
could be recorded, and a cold start does not pay for the import). Providers passed to the client
are used; otherwise the global ones, so an application that configured OpenTelemetry gets spans
and metrics with no code.

What is recorded follows OpenTelemetry's semantic conventions for AWS SDK calls:

* span ``Glue.GetSession`` (kind ``CLIENT``), child of the caller's current span, with
  ``rpc.system="aws-api"``, ``rpc.service="Glue"``, ``rpc.method="GetSession"``,
  ``cloud.region``, ``server.address``, ``server.port`` and, from the last reply,
  ``aws.request_id`` and ``http.response.status_code``; a ``retry`` event per retry (attempt,
  ``error.type``, delay); on failure status ERROR, ``error.type`` and the exception;
* span ``GlueSessionClient.wait_for_session`` (kind ``INTERNAL``) around a waiter's polls;
* ``rpc.client.call.duration`` (histogram, s), ``aioglue_session.retries`` (counter),
  ``aioglue_session.calls.active`` (up-down counter), in adaptive retry mode
  ``aioglue_session.adaptive.send_rate`` (gauge, requests/s, while the limiter is on) and, with
  ``max_rate="auto"``, ``aioglue_session.auto.send_rate`` (gauge, requests/s: the learned rate);
* for watches (``watch_sessions``): ``aioglue_session.watch.changes`` (counter, by status or
  ``error.type``) and ``aioglue_session.watch.sessions`` (up-down counter, ids watched).

Nothing recorded comes from a request's or reply's headers other than the request id, so no
credential, token, signature or proxy password can reach a span or a metric.

Cost: with no SDK configured, the global ``ProxyTracer`` is asked on each call whether an SDK
tracer has appeared (one attribute read); until then no span is started, and the metric
instruments are OpenTelemetry's proxies, which drop measurements for a few hundred nanoseconds.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextvars import Token
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation
from opentelemetry.trace import (
    NoOpTracer,
    ProxyTracer,
    Span,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    TracerProvider,
)
from opentelemetry.util.types import AttributeValue

from ._version import __version__
from .errors import GlueError, WaiterError, error_code
from .models import TERMINAL_STATUSES, Session, SessionStatus
from .ratelimit import RateLimit
from .retries import AdaptiveLimiter

__all__ = [
    "ACTIVE_CALLS",
    "AUTO_RATE",
    "CACHE_ATTRIBUTE",
    "DURATION",
    "RETRIES",
    "RETRY_EVENT",
    "SCOPE",
    "SEND_RATE",
    "SPAN_NAME",
    "WAIT_SPAN_NAME",
    "WATCH_CHANGES",
    "WATCH_SESSIONS",
    "Call",
    "Telemetry",
    "error_type",
]

#: The instrumentation scope (tracer and meter name).
SCOPE = "aioglue_session"
SPAN_NAME = "Glue.GetSession"
WAIT_SPAN_NAME = "GlueSessionClient.wait_for_session"
RETRY_EVENT = "retry"
#: On the span of a call served without a request of its own: ``"hit"`` or ``"shared"``.
CACHE_ATTRIBUTE = "aioglue_session.cache"
DURATION = "rpc.client.call.duration"
RETRIES = "aioglue_session.retries"
ACTIVE_CALLS = "aioglue_session.calls.active"
SEND_RATE = "aioglue_session.adaptive.send_rate"
AUTO_RATE = "aioglue_session.auto.send_rate"
WATCH_CHANGES = "aioglue_session.watch.changes"
WATCH_SESSIONS = "aioglue_session.watch.sessions"
#: The semantic conventions' advised buckets for ``rpc.client.call.duration`` (seconds).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)

Attributes = dict[str, AttributeValue]


#: ``error.type``: the error code of an error reply, else the exception's class name.
error_type = error_code


class Telemetry:
    """One client's tracer and instruments, resolved once when the client opens."""

    def __init__(
        self,
        tracer_provider: TracerProvider | None,
        meter_provider: MeterProvider | None,
        *,
        region: str,
        endpoint_url: str,
        limiter: AdaptiveLimiter | None = None,
        auto_rate: RateLimit | None = None,
    ) -> None:
        url = urlsplit(endpoint_url)
        port = url.port or (443 if url.scheme == "https" else 80)
        #: On every measurement (constant per client, so they cost no cardinality).
        self.metric_attributes: Attributes = {
            "rpc.system": "aws-api",
            "rpc.service": "Glue",
            "rpc.method": "GetSession",
            "server.address": url.hostname or "",
            "server.port": port,
        }
        self.span_attributes: Attributes = {**self.metric_attributes, "cloud.region": region}
        self._tracer: Tracer | None = None
        self._proxy: ProxyTracer | None = None
        tracer = trace.get_tracer(SCOPE, __version__, tracer_provider)
        if isinstance(tracer, ProxyTracer) and isinstance(
            getattr(ProxyTracer, "_tracer", None), property
        ):
            # The global provider before an SDK is set: asked per call (see live_tracer).
            self._proxy = tracer
        elif not isinstance(tracer, NoOpTracer):
            self._tracer = tracer
        #: ``get_session`` calls running now (read by the ``calls.active`` callback).
        self.in_flight = 0
        self.limiter = limiter
        #: With max_rate="auto", the bucket whose rate was learned (read by its gauge).
        self.auto_rate = auto_rate
        self.instruments = _instruments(meter_provider)
        self.instruments.watch(self)

    def live_tracer(self) -> Tracer | None:
        """The tracer to start a span with, or ``None`` while no SDK is configured.

        The global ``ProxyTracer`` turns into the SDK's tracer once the application calls
        ``trace.set_tracer_provider``, even after this client opened: its ``_tracer`` property
        (private; there from opentelemetry-api 1.20 to 1.45 at least) says which it is now, for
        the price of one attribute read. Once an SDK tracer appears it is kept. Without that
        property the proxy is used as any tracer: a span per call, dropped unless recording.
        """
        tracer = self._tracer
        if tracer is None and self._proxy is not None:
            real: Tracer = self._proxy._tracer
            if isinstance(real, NoOpTracer):
                return None
            self._tracer, self._proxy = real, None
            return real
        return tracer

    def start(self) -> Call:
        """Begin one ``get_session`` call: count it in flight and start its span (made current,
        so spans of an instrumented HTTP library nest under it)."""
        self.in_flight += 1
        tracer = self.live_tracer()
        if tracer is None:
            return Call(self, None, None)
        span = tracer.start_span(SPAN_NAME, kind=SpanKind.CLIENT, attributes=self.span_attributes)
        return Call(self, span, otel_context.attach(trace.set_span_in_context(span)))

    async def wait(
        self,
        run: Callable[[Callable[[str], Awaitable[Session]]], Awaitable[Session]],
        fetch: Callable[[str], Awaitable[Session]],
        *,
        until: Iterable[SessionStatus | str],
        timeout: float,
    ) -> Session:
        """Run a waiter, ``run(fetch)``, in an INTERNAL span that its polls' spans nest under."""
        tracer = self.live_tracer()
        if tracer is None:
            return await run(fetch)
        polls = 0

        async def poll(session_id: str) -> Session:
            nonlocal polls
            polls += 1
            return await fetch(session_id)

        wanted = sorted(str(getattr(s, "value", s)) for s in until)
        span = tracer.start_span(
            WAIT_SPAN_NAME,
            kind=SpanKind.INTERNAL,
            attributes={
                "cloud.region": self.span_attributes["cloud.region"],
                "aioglue_session.wait.until": wanted,
                "aioglue_session.wait.timeout": float(timeout),
            },
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            session = await run(poll)
        except BaseException as exc:
            last = exc.last_session if isinstance(exc, WaiterError) else None
            if last is not None:
                _set_status_attribute(span, last)
            kind = error_type(exc)
            if isinstance(exc, WaiterError) and (
                last is None or last.status not in TERMINAL_STATUSES
            ):
                kind = "timeout"  # not a terminal status: the waiter ran out of time
            _fail(span, exc, kind)
            raise
        else:
            _set_status_attribute(span, session)
            return session
        finally:
            span.set_attribute("aioglue_session.wait.polls", polls)
            otel_context.detach(token)
            span.end()

    def close(self) -> None:
        """Stop reporting this client (its calls in flight, its send rate)."""
        self.instruments.unwatch(self)


class Call:
    """The telemetry of one ``get_session`` call, from start to ``end``."""

    __slots__ = ("_reply", "_span", "_start", "_telemetry", "_token")

    def __init__(
        self, telemetry: Telemetry, span: Span | None, token: Token[Context] | None
    ) -> None:
        self._telemetry = telemetry
        self._span = span
        self._token = token
        self._reply: tuple[int, Mapping[str, str]] | None = None
        self._start = time.perf_counter()

    def reply(self, status: int, headers: Mapping[str, str]) -> None:
        """The reply the session was read from."""
        self._reply = (status, headers)

    def served(self, how: str) -> None:
        """The call was served without a request of its own (``max_age``): ``"hit"`` (a
        remembered session) or ``"shared"`` (another call's request)."""
        span = self._span
        if span is not None and span.is_recording():
            span.set_attribute(CACHE_ATTRIBUTE, how)

    def retried(self, attempt: int, exc: BaseException, delay: float) -> None:
        """Attempt ``attempt`` failed with ``exc``; the next one goes out in ``delay`` s."""
        telemetry = self._telemetry
        kind = error_type(exc)
        telemetry.instruments.retries.add(1, {**telemetry.metric_attributes, "error.type": kind})
        span = self._span
        if span is None or not span.is_recording():
            return
        event: Attributes = {
            "aioglue_session.retry.attempt": attempt,
            "error.type": kind,
            "aioglue_session.retry.delay": float(delay),
        }
        if isinstance(exc, GlueError):
            if exc.status_code is not None:
                event["http.response.status_code"] = exc.status_code
            if exc.request_id:
                event["aws.request_id"] = exc.request_id
        span.add_event(RETRY_EVENT, event)

    def end(self, exc: BaseException | None) -> None:
        """The call returned (``exc is None``) or raised ``exc``."""
        duration = time.perf_counter() - self._start
        telemetry = self._telemetry
        instruments, attributes = telemetry.instruments, telemetry.metric_attributes
        telemetry.in_flight -= 1
        kind = None if exc is None else error_type(exc)
        instruments.duration.record(
            duration, attributes if kind is None else {**attributes, "error.type": kind}
        )
        span = self._span
        if span is None:
            return
        try:
            if not span.is_recording():
                return
            status, request_id = None, None
            if exc is None:
                if self._reply is not None:
                    status, headers = self._reply
                    request_id = headers.get("x-amzn-RequestId")
            elif isinstance(exc, GlueError):
                status, request_id = exc.status_code, exc.request_id
            if status is not None:
                span.set_attribute("http.response.status_code", status)
            if request_id:
                span.set_attribute("aws.request_id", request_id)
            if exc is not None and kind is not None:
                _fail(span, exc, kind)
        finally:
            if self._token is not None:
                otel_context.detach(self._token)
            span.end()


def _fail(span: Span, exc: BaseException, kind: str) -> None:
    """Status ERROR with ``error.type``; the exception as an event, unless it is a cancellation
    (the call did not fail, it was abandoned: no traceback to keep)."""
    span.set_attribute("error.type", kind)
    if isinstance(exc, asyncio.CancelledError):
        span.set_status(Status(StatusCode.ERROR, "cancelled"))
        return
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, str(exc) or kind))


def _set_status_attribute(span: Span, session: Session) -> None:
    status = session.status
    if status is not None:
        span.set_attribute("aioglue_session.session.status", str(getattr(status, "value", status)))


class _Instruments:
    """The instruments of one meter provider, shared by every client that uses it.

    Shared because an SDK meter hands back the instrument already registered under a name and
    drops the callbacks of a second observable one: one callback observes every client. Calls in
    flight are observed rather than counted per call (an SDK measurement costs microseconds).
    """

    def __init__(self, meter: Meter) -> None:
        description = "Duration of GetSession calls, every attempt and backoff included."
        try:
            self.duration = meter.create_histogram(
                DURATION,
                unit="s",
                description=description,
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
            )
        except TypeError:  # opentelemetry-api before 1.30: no advisory (configure a View)
            self.duration = meter.create_histogram(DURATION, unit="s", description=description)
        self.retries = meter.create_counter(
            RETRIES, unit="{retry}", description="GetSession attempts retried, by error code."
        )
        self.watch_changes = meter.create_counter(
            WATCH_CHANGES,
            unit="{change}",
            description="Session changes yielded by watches, by status (or error.type).",
        )
        self.watch_sessions = meter.create_up_down_counter(
            WATCH_SESSIONS, unit="{session}", description="Sessions watched now."
        )
        self._lock = threading.Lock()  # callbacks run on the metric reader's thread
        self._watched: weakref.WeakSet[Telemetry] = weakref.WeakSet()
        meter.create_observable_up_down_counter(
            ACTIVE_CALLS,
            callbacks=[self._observe_active],
            unit="{call}",
            description="GetSession calls in flight.",
        )
        meter.create_observable_gauge(
            SEND_RATE,
            callbacks=[self._observe_send_rate],
            unit="{request}/s",
            description="Send rate the adaptive retry mode allows, while it is limiting.",
        )
        meter.create_observable_gauge(
            AUTO_RATE,
            callbacks=[self._observe_auto_rate],
            unit="{request}/s",
            description='Send rate max_rate="auto" has learned from throttling replies.',
        )

    def watch(self, telemetry: Telemetry) -> None:
        with self._lock:
            self._watched.add(telemetry)

    def unwatch(self, telemetry: Telemetry) -> None:
        with self._lock:
            self._watched.discard(telemetry)

    def _clients(self) -> list[Telemetry]:
        with self._lock:
            return list(self._watched)

    def _observe_active(self, options: CallbackOptions) -> Iterator[Observation]:
        """Calls in flight, summed over the clients that share an endpoint."""
        totals: dict[tuple[Any, ...], tuple[int, Attributes]] = {}
        for telemetry in self._clients():
            key = tuple(telemetry.metric_attributes.values())
            count = totals.get(key, (0, telemetry.metric_attributes))[0]
            totals[key] = (count + telemetry.in_flight, telemetry.metric_attributes)
        for count, attributes in totals.values():
            yield Observation(count, attributes)

    def _observe_send_rate(self, options: CallbackOptions) -> Iterator[Observation]:
        """Each limiting client's allowed rate; the lowest where clients share an endpoint."""
        lowest: dict[tuple[Any, ...], tuple[float, Attributes]] = {}
        for telemetry in self._clients():
            limiter = telemetry.limiter
            if limiter is None or not limiter.enabled:
                continue
            key = tuple(telemetry.metric_attributes.values())
            rate = limiter.send_rate
            if key not in lowest or rate < lowest[key][0]:
                lowest[key] = (rate, telemetry.metric_attributes)
        for rate, attributes in lowest.values():
            yield Observation(rate, attributes)

    def _observe_auto_rate(self, options: CallbackOptions) -> Iterator[Observation]:
        """Each ``max_rate="auto"`` client's learned rate; the lowest where clients share an
        endpoint."""
        lowest: dict[tuple[Any, ...], tuple[float, Attributes]] = {}
        for telemetry in self._clients():
            bucket = telemetry.auto_rate
            if bucket is None:
                continue
            key = tuple(telemetry.metric_attributes.values())
            rate = bucket.rate
            if key not in lowest or rate < lowest[key][0]:
                lowest[key] = (rate, telemetry.metric_attributes)
        for rate, attributes in lowest.values():
            yield Observation(rate, attributes)


_instruments_lock = threading.Lock()
_instruments_by_provider = weakref.WeakKeyDictionary[Any, _Instruments]()
_global_instruments: list[_Instruments] = []


def _instruments(meter_provider: MeterProvider | None) -> _Instruments:
    """The instruments for ``meter_provider`` (``None``: the global one, through OpenTelemetry's
    proxy meter until an SDK is set), created on first use."""
    with _instruments_lock:
        if meter_provider is None:
            if not _global_instruments:
                _global_instruments.append(_Instruments(metrics.get_meter(SCOPE, __version__)))
            return _global_instruments[0]
        try:
            found = _instruments_by_provider.get(meter_provider)
        except TypeError:  # a provider that cannot be weakly referenced: not shared
            return _Instruments(meter_provider.get_meter(SCOPE, __version__))
        if found is None:
            found = _Instruments(meter_provider.get_meter(SCOPE, __version__))
            _instruments_by_provider[meter_provider] = found
        return found
