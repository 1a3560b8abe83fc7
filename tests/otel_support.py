"""The OpenTelemetry SDK with in-memory exporters, set as the process's providers once.

OpenTelemetry lets a process set its meter and tracer providers only once, so every test that
reads telemetry shares them: the reader hands out deltas (what was recorded since the last
collection) and each test starts by draining it and clearing the finished spans. Guards built
after the providers are set report to them, as an application's would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_DELTA = AggregationTemporality.DELTA
_reader = InMemoryMetricReader(
    preferred_temporality={
        Counter: _DELTA,
        UpDownCounter: AggregationTemporality.CUMULATIVE,
        Histogram: _DELTA,
        ObservableCounter: _DELTA,
        ObservableUpDownCounter: AggregationTemporality.CUMULATIVE,
    }
)
_exporter = InMemorySpanExporter()
_installed = False


def install() -> Recorded:
    """Set the SDK providers (the first time) and return a clean recording."""
    global _installed
    if not _installed:
        metrics.set_meter_provider(MeterProvider(metric_readers=[_reader]))
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(_exporter))
        trace.set_tracer_provider(tracer_provider)
        _installed = True
    recorded = Recorded()
    recorded.reset()
    return recorded


Attributes = frozenset[tuple[str, Any]]


def attrs(**values: Any) -> Attributes:
    """Attributes as points are keyed here: ``attrs(**{"audmw.outcome": "accepted"})``."""
    return frozenset(values.items())


class Recorded:
    """What audmw reported since ``reset``: metric points by name and attributes, and spans."""

    def __init__(self) -> None:
        self._points: dict[str, dict[Attributes, Any]] = {}

    def reset(self) -> None:
        _reader.get_metrics_data()
        _exporter.clear()
        self._points = {}

    def collect(self) -> dict[str, dict[Attributes, Any]]:
        """Every audmw metric point recorded since the last collection, merged in."""
        data = _reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                if scope.scope.name != "audmw":
                    continue
                for metric in scope.metrics:
                    points = self._points.setdefault(metric.name, {})
                    for point in metric.data.data_points:
                        key = frozenset((point.attributes or {}).items())
                        if hasattr(point, "count"):  # a histogram: count and sum add up
                            count, total = points.get(key, (0, 0.0))
                            points[key] = (count + point.count, total + point.sum)
                        elif metric.name in (
                            "audmw.token_cache.evictions",
                            "audmw.token_cache.size",
                        ):
                            points[key] = point.value  # cumulative: the latest is the value
                        else:
                            points[key] = points.get(key, 0) + point.value
        return self._points

    def count(self, name: str, **attributes: Any) -> Any:
        """The value of ``name`` summed over points whose attributes include ``attributes``."""
        total: Any = 0
        for key, value in self.collect().get(name, {}).items():
            if attributes.items() <= dict(key).items():
                total = total + (value[0] if isinstance(value, tuple) else value)
        return total

    def spans(self) -> list[ReadableSpan]:
        """audmw's finished spans (FastAPI, for one, reports spans of its own)."""
        return [
            span
            for span in _exporter.get_finished_spans()
            if span.instrumentation_scope is not None and span.instrumentation_scope.name == "audmw"
        ]


def children(spans: Iterable[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    parent_id = parent.context.span_id if parent.context is not None else None
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent_id]


def refreshes(spans: Iterable[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if s.name == "audmw.keys.refresh"]


def attributes_of(span: ReadableSpan) -> Mapping[str, Any]:
    return dict(span.attributes or {})
