"""/metrics: read from the hub at scrape time, so the hot path only bumps
plain counters it keeps anyway.

Prometheus' rules, which `promtool check metrics` and a test hold us to:
counters only go up (totals over clients include those that left), the
histogram is cumulative since start, every traced type has its series
from the first scrape (zero until its first event), and no label takes a
value per client: clients come and go, and a series per client would grow
without bound in the server that scrapes us. Per-client detail is in
/api/status."""

from __future__ import annotations

import platform
from collections import Counter
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ..hub import Hub
from .state import Export

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
KINDS = ("sse", "ws", "ndjson")


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


class HubCollector(Collector):
    def __init__(self, hub: Hub, transport: str) -> None:
        self.hub = hub
        self.transport = transport

    def collect(self) -> Iterator[Metric]:
        yield self._build_info()
        yield from self._reader()
        yield from self._events()
        yield from self._clients()

    def _build_info(self) -> Metric:
        info = GaugeMetricFamily("ringscope_build_info", "Versions of this ringscope build; always 1",
                                 labels=["version", "python", "aiohttp", "transport"])  # fmt: skip
        info.add_metric(
            [_version("ringscope"), platform.python_version(), _version("aiohttp"), self.transport], 1
        )
        return info

    def _reader(self) -> Iterator[Metric]:
        hub = self.hub
        yield GaugeMetricFamily(
            "ringscope_reader_up", "1 while the ring reader runs, 0 once it has failed (see /healthz)",
            value=1 if hub.running else 0,
        )  # fmt: skip
        yield CounterMetricFamily(
            "ringscope_reader_polls", "Ring drains by the reader", value=hub.stats.polls
        )
        batches = hub.stats.batches
        yield HistogramMetricFamily("ringscope_reader_batch_events", "Events per non-empty ring drain",
                                    buckets=batches.buckets(), sum_value=batches.sum)  # fmt: skip
        yield GaugeMetricFamily(
            "ringscope_ring_fill_ratio", "Ring bytes pending / ring size", value=hub.session.ring_fill()
        )

    def _events(self) -> Iterator[Metric]:
        hub = self.hub
        for name, help_text, counts in (
            ("ringscope_events_produced", "Events read from the ring", hub.produced),
            ("ringscope_events_delivered", "Events written to client sockets (one per client)", hub.delivered),
            ("ringscope_kernel_drops", "Events dropped in the kernel (ring full), per kernel type code",
             hub.kernel_drops()),
        ):  # fmt: skip
            family = CounterMetricFamily(name, help_text, labels=["type"])
            for t, n in sorted(counts.items()):
                family.add_metric([t], n)
            yield family
        yield CounterMetricFamily(
            "ringscope_daemon_drops", "Records the daemon could not decode", value=hub.session.lost["daemon"]
        )

    def _clients(self) -> Iterator[Metric]:
        hub = self.hub
        subs = list(hub.iter_subscribers())
        lost = CounterMetricFamily(
            "ringscope_client_lost_events",
            "Events clients missed, by reason: back-pressure (drop-oldest, drop-newest, disconnect, "
            "send-timeout), replay-gap (resumed after the replay window), departed (queued when the "
            "client left), shutdown (queued when the server stopped)",
            labels=["reason", "type"],
        )
        for (reason, t), n in sorted(hub.client_lost().items()):
            lost.add_metric([reason, t], n)
        yield lost
        yield CounterMetricFamily(
            "ringscope_client_replay_gaps_unknown",
            "Resumes whose gap before the replay window could not be counted",
            value=hub.stats.replay_gaps_unknown,
        )
        connections = CounterMetricFamily("ringscope_client_connections", "Stream clients accepted",
                                          labels=["kind"])  # fmt: skip
        clients = GaugeMetricFamily("ringscope_clients", "Stream clients connected", labels=["kind"])
        depth = GaugeMetricFamily("ringscope_client_queue_depth_events", "Events queued for clients",
                                  labels=["kind"])  # fmt: skip
        now: Counter[str] = Counter(dict.fromkeys(KINDS, 0))
        queued: Counter[str] = Counter(dict.fromkeys(KINDS, 0))
        for s in subs:
            now[s.kind] += 1
            queued[s.kind] += s.depth + s.sending
        for kind in sorted({*KINDS, *hub.stats.connections}):
            connections.add_metric([kind], hub.stats.connections.get(kind, 0))
            clients.add_metric([kind], now[kind])
            depth.add_metric([kind], queued[kind])
        yield connections
        yield clients
        yield depth
        yield GaugeMetricFamily(
            "ringscope_client_queue_depth_max_events",
            "The fullest client queue",
            value=max((s.depth for s in subs), default=0),
        )


class ExportCollector(Collector):
    """serve --export: the `export` loss stage and the exporter's counters."""

    def __init__(self, export: Export) -> None:
        self.export = export

    def collect(self) -> Iterator[Metric]:
        s = self.export.status()
        for name, key, text in (
            ("ringscope_export_produced_events", "produced", "Events handed to the exporter"),
            ("ringscope_export_delivered_events", "delivered", "Events acknowledged by JetStream"),
            ("ringscope_export_lost_events", "lost", "Events dropped by the exporter (loss stage export)"),
            ("ringscope_export_retries", "retries", "Messages published again after no ack"),
        ):
            yield CounterMetricFamily(name, text, value=s[key])
        yield GaugeMetricFamily("ringscope_export_connected", "1 while connected to NATS",
                                value=1 if s["connected"] else 0)  # fmt: skip
        yield GaugeMetricFamily("ringscope_export_spool_bytes", "Bytes in the export spool",
                                value=s["spool_bytes"])  # fmt: skip
        yield GaugeMetricFamily("ringscope_export_waiting_events", "Events waiting for JetStream",
                                value=s["produced"] - s["delivered"] - s["lost"])  # fmt: skip


class Metrics:
    """The registry /metrics renders: the hub's series, and the process and
    Python runtime series prometheus_client provides."""

    def __init__(self, hub: Hub, transport: str | None = None, *, export: Export | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(HubCollector(hub, transport or "none"))
        if export is not None:
            self.registry.register(ExportCollector(export))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
