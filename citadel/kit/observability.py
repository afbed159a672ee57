"""Request ids, structured JSON logs and Prometheus metrics that stay correct across workers.

Metrics are recorded in plain per-process counters (a dict increment per request, well under a
microsecond) and each process writes a snapshot of them into a shared folder once a second and
at shutdown. ``/metrics``, on whichever worker answers, merges every snapshot in the folder:
counters and histograms of processes that have exited are kept (totals never go backwards),
gauges only of processes still alive. The text format itself is produced by prometheus-client.
"""

import bisect
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import msgspec
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

# --- request ids ---------------------------------------------------------------------------------

request_id_var: ContextVar[str] = ContextVar("citadel_request_id", default="")


def current_request_id() -> str:
    return request_id_var.get()


# --- logs --------------------------------------------------------------------------------------

_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
_log_encoder = msgspec.json.Encoder(enc_hook=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if request_id := request_id_var.get():
            doc["requestId"] = request_id
        doc.update(
            (key, value)
            for key, value in vars(record).items()
            if key not in _RECORD_FIELDS and not key.startswith("_")
        )
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return _log_encoder.encode(doc).decode()


def configure_logging(level: str, fmt: Literal["json", "text"]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


# --- metrics -----------------------------------------------------------------------------------

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

MetricKind = Literal["counter", "gauge", "histogram"]


class MetricSpec(msgspec.Struct, frozen=True):
    name: str
    help: str
    kind: MetricKind
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


HTTP_REQUESTS = MetricSpec(
    "citadel_http_requests", "HTTP responses by route template, method and status.", "counter",
    ("route", "method", "status"),
)  # fmt: skip
HTTP_LATENCY = MetricSpec(
    "citadel_http_request_duration_seconds", "Time from request to the end of the response.", "histogram",
    ("route", "method"), LATENCY_BUCKETS,
)  # fmt: skip
DB_POOL = MetricSpec(
    "citadel_db_pool_connections",
    "asyncpg pool connections of live API workers, by state.",
    "gauge",
    ("state",),
)

CACHE_LOOKUPS = MetricSpec(
    "citadel_cache_lookups",
    "Response cache lookups by topic, tier (memory, redis) and result (hit, miss, error).",
    "counter",
    ("topic", "tier", "result"),
)

# business metrics, counted by the API workers where the thing happens
ORDERS_CREATED = MetricSpec("citadel_orders_created", "Orders placed, by currency.", "counter", ("currency",))
REVENUE = MetricSpec(
    "citadel_revenue_minor_units",
    "Totals of placed orders in minor units (cents), by currency.",
    "counter",
    ("currency",),
)
CHECKOUT_FAILURES = MetricSpec(
    "citadel_checkout_failures", "Checkouts refused, by reason (the problem code).", "counter", ("reason",)
)
CART_ADDITIONS = MetricSpec("citadel_cart_additions", "Lines added to carts (units, by add).", "counter")
SEARCH_QUERIES = MetricSpec(
    "citadel_search_queries", "Searches, by result: found or zero (nothing found).", "counter", ("result",)
)
# read at scrape time from PostgreSQL and JetStream (what every worker shares)
OUTBOX_BACKLOG = MetricSpec("citadel_outbox_backlog_events", "Outbox events not yet published.", "gauge")
OUTBOX_AGE = MetricSpec(
    "citadel_outbox_oldest_event_age_seconds", "Age of the oldest unpublished outbox event.", "gauge"
)
CONSUMER_PENDING = MetricSpec(
    "citadel_jetstream_consumer_pending_messages",
    "Messages of a stream a durable consumer has not yet been delivered (its lag).",
    "gauge",
    ("stream", "consumer"),
)
CONSUMER_UNACKED = MetricSpec(
    "citadel_jetstream_consumer_ack_pending_messages",
    "Messages delivered to a durable consumer and not yet acknowledged.",
    "gauge",
    ("stream", "consumer"),
)
SCRAPE_SOURCE_UP = MetricSpec(
    "citadel_scrape_source_up",
    "1 when a scrape-time source answered, 0 when it did not.",
    "gauge",
    ("source",),
)
BUSINESS_METRICS = (ORDERS_CREATED, REVENUE, CHECKOUT_FAILURES, CART_ADDITIONS, SEARCH_QUERIES)
SCRAPE_GAUGES = (OUTBOX_BACKLOG, OUTBOX_AGE, CONSUMER_PENDING, CONSUMER_UNACKED, SCRAPE_SOURCE_UP)

GaugeSource = Callable[[], Iterable[tuple[MetricSpec, tuple[str, ...], float]]]


class Snapshot(msgspec.Struct, array_like=True):
    """One process's metrics at one moment, as written to the shared folder."""

    pid: int
    counters: dict[str, list[tuple[list[str], float]]]
    histograms: dict[str, list[tuple[list[str], list[float]]]]
    gauges: dict[str, list[tuple[list[str], float]]]


_snapshot_encoder = msgspec.msgpack.Encoder()
_snapshot_decoder = msgspec.msgpack.Decoder(Snapshot)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Metrics:
    """This process's metrics, and the merge of every process's snapshot for a scrape."""

    def __init__(self, directory: Path | None, specs: Iterable[MetricSpec] = ()) -> None:
        self.directory = directory
        self.pid = os.getpid()
        self.specs: dict[str, MetricSpec] = {}
        self._counters: dict[str, dict[tuple[str, ...], float]] = {}
        self._histograms: dict[str, dict[tuple[str, ...], list[float]]] = {}
        self._gauge_sources: list[GaugeSource] = []
        for spec in (
            HTTP_REQUESTS,
            HTTP_LATENCY,
            DB_POOL,
            CACHE_LOOKUPS,
            *BUSINESS_METRICS,
            *SCRAPE_GAUGES,
            *specs,
        ):
            self.register(spec)
        self._requests = self._counters[HTTP_REQUESTS.name]
        self._latency = self._histograms[HTTP_LATENCY.name]
        self._latency_width = len(LATENCY_BUCKETS) + 2  # finite buckets, +Inf, then the sum

    def register(self, spec: MetricSpec) -> None:
        self.specs[spec.name] = spec
        if spec.kind == "counter":
            self._counters.setdefault(spec.name, {})
        elif spec.kind == "histogram":
            self._histograms.setdefault(spec.name, {})

    def add_gauge_source(self, source: GaugeSource) -> None:
        self._gauge_sources.append(source)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """The per-request hot path: two dict updates and a bisect."""
        key = (route, method, str(status))
        self._requests[key] = self._requests.get(key, 0.0) + 1.0
        hkey = (route, method)
        hist = self._latency.get(hkey)
        if hist is None:
            hist = self._latency[hkey] = [0.0] * self._latency_width
        hist[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1.0
        hist[-1] += seconds

    def inc(self, spec: MetricSpec, labels: tuple[str, ...] = (), amount: float = 1.0) -> None:
        series = self._counters[spec.name]
        series[labels] = series.get(labels, 0.0) + amount

    def observe(self, spec: MetricSpec, labels: tuple[str, ...], value: float) -> None:
        series = self._histograms[spec.name]
        hist = series.get(labels)
        if hist is None:
            hist = series[labels] = [0.0] * (len(spec.buckets) + 2)
        hist[bisect.bisect_left(spec.buckets, value)] += 1.0
        hist[-1] += value

    def snapshot(self) -> Snapshot:
        gauges: dict[str, list[tuple[list[str], float]]] = {}
        for source in self._gauge_sources:
            for spec, labels, value in source():
                gauges.setdefault(spec.name, []).append((list(labels), value))
        return Snapshot(
            pid=self.pid,
            counters={n: [(list(k), v) for k, v in s.items()] for n, s in self._counters.items()},
            histograms={n: [(list(k), list(v)) for k, v in s.items()] for n, s in self._histograms.items()},
            gauges=gauges,
        )

    def write_snapshot(self) -> None:
        """Publish this process's numbers to the shared folder (atomically, by rename)."""
        if self.directory is None:
            return
        self.pid = os.getpid()
        target = self.directory / f"{self.pid}.msgpack"
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(_snapshot_encoder.encode(self.snapshot()))
        tmp.replace(target)

    def _all_snapshots(self) -> Iterator[tuple[Snapshot, bool]]:
        own = self.snapshot()
        yield own, True
        if self.directory is None:
            return
        for path in self.directory.glob("*.msgpack"):
            if path.stem == str(own.pid):
                continue
            with contextlib.suppress(OSError, msgspec.DecodeError):
                snap = _snapshot_decoder.decode(path.read_bytes())
                yield snap, _pid_alive(snap.pid)

    def render(self, extra_gauges: Iterable[tuple[MetricSpec, tuple[str, ...], float]] = ()) -> bytes:
        """The Prometheus text exposition of every process's metrics, merged, with gauges read at
        scrape time (``extra_gauges``)."""
        counters: dict[str, dict[tuple[str, ...], float]] = {}
        histograms: dict[str, dict[tuple[str, ...], list[float]]] = {}
        gauges: dict[str, dict[tuple[str, ...], float]] = {}
        for spec, names, reading in extra_gauges:
            gauges.setdefault(spec.name, {})[names] = reading
        for snap, alive in self._all_snapshots():
            for name, series in snap.counters.items():
                merged = counters.setdefault(name, {})
                for labels, value in series:
                    merged[tuple(labels)] = merged.get(tuple(labels), 0.0) + value
            for name, hseries in snap.histograms.items():
                hmerged = histograms.setdefault(name, {})
                for labels, values in hseries:
                    current = hmerged.get(tuple(labels))
                    hmerged[tuple(labels)] = (
                        values if current is None else [a + b for a, b in zip(current, values, strict=True)]
                    )
            if alive:
                for name, series in snap.gauges.items():
                    gmerged = gauges.setdefault(name, {})
                    for labels, value in series:
                        gmerged[tuple(labels)] = gmerged.get(tuple(labels), 0.0) + value
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_MergedCollector(self.specs, counters, histograms, gauges))
        return generate_latest(registry)


class _MergedCollector(Collector):
    def __init__(
        self,
        specs: dict[str, MetricSpec],
        counters: dict[str, dict[tuple[str, ...], float]],
        histograms: dict[str, dict[tuple[str, ...], list[float]]],
        gauges: dict[str, dict[tuple[str, ...], float]],
    ) -> None:
        self.specs, self.counters, self.histograms, self.gauges = specs, counters, histograms, gauges

    def collect(self) -> Iterator[Any]:
        for name, spec in sorted(self.specs.items()):
            labels = list(spec.labels)
            if spec.kind == "counter":
                counter = CounterMetricFamily(name, spec.help, labels=labels)
                for key, value in sorted(self.counters.get(name, {}).items()):
                    counter.add_metric(list(key), value)
                yield counter
            elif spec.kind == "gauge":
                gauge = GaugeMetricFamily(name, spec.help, labels=labels)
                for key, value in sorted(self.gauges.get(name, {}).items()):
                    gauge.add_metric(list(key), value)
                yield gauge
            else:
                hist = HistogramMetricFamily(name, spec.help, labels=labels)
                bounds = [*(str(b) for b in spec.buckets), "+Inf"]
                for key, values in sorted(self.histograms.get(name, {}).items()):
                    cumulative, running = [], 0.0
                    for bound, count in zip(bounds, values[:-1], strict=True):
                        running += count
                        cumulative.append((bound, running))
                    hist.add_metric(list(key), cumulative, sum_value=values[-1])
                yield hist


def prepare_metrics_dir(directory: Path) -> None:
    """Start a server's metrics folder empty, so numbers of an earlier run are not merged in."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.msgpack"):
        stale.unlink(missing_ok=True)
