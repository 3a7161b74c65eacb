"""/metrics: read from the hub at scrape time, so the hot path only bumps
plain counters it keeps anyway."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ..hub import Hub

__all__ = ["render_metrics"]

_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144)


class HubCollector(Collector):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        hub = self.hub
        produced = CounterMetricFamily(
            "ringscope_events_produced", "Events read from the ring", labels=["type"]
        )
        for t, n in sorted(hub.produced.items()):
            produced.add_metric([t], n)
        yield produced
        delivered = CounterMetricFamily(
            "ringscope_events_delivered", "Events handed to client sockets", labels=["type"]
        )
        for t, n in sorted(hub.delivered.items()):
            delivered.add_metric([t], n)
        yield delivered
        kernel = CounterMetricFamily(
            "ringscope_kernel_drops", "Events dropped in the kernel (ring full)", labels=["type"]
        )
        for t, n in sorted(hub.session.kernel_drops().items()):
            kernel.add_metric([t], n)
        yield kernel
        yield CounterMetricFamily(
            "ringscope_daemon_drops", "Records the daemon could not decode", value=hub.session.lost["daemon"]
        )
        yield from self._clients()
        yield GaugeMetricFamily(
            "ringscope_ring_fill_ratio", "Ring bytes pending / ring size", value=hub.session.ring_fill()
        )
        yield self._batches()

    def _clients(self) -> Iterator[Metric]:
        subs = list(self.hub.iter_subscribers())
        labels = ["client", "kind", "peer"]
        drops = CounterMetricFamily("ringscope_client_drops", "Events dropped for one client", labels=labels)
        depth = GaugeMetricFamily(
            "ringscope_client_queue_depth", "Events queued for one client", labels=labels
        )
        sent = CounterMetricFamily("ringscope_client_delivered", "Events sent to one client", labels=labels)
        for s in subs:
            key = [str(s.id), s.kind, s.peer]
            drops.add_metric(key, s.dropped)
            depth.add_metric(key, s.depth)
            sent.add_metric(key, s.delivered)
        yield drops
        yield depth
        yield sent
        yield CounterMetricFamily(
            "ringscope_client_drops_all", "Events dropped for clients, including departed ones",
            value=self.hub.client_dropped_total + sum(s.dropped for s in subs),
        )  # fmt: skip
        yield GaugeMetricFamily("ringscope_clients", "Connected stream clients", value=len(subs))

    def _batches(self) -> Metric:
        sizes = list(self.hub.batch_sizes)
        buckets = [(str(b), sum(1 for s in sizes if s <= b)) for b in _BUCKETS]
        buckets.append(("+Inf", len(sizes)))
        return HistogramMetricFamily(
            "ringscope_reader_batch_events",
            "Events per ring drain (last 4096 non-empty drains)",
            buckets=buckets,
            sum_value=sum(sizes),
        )


def render_metrics(hub: Hub) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector(hub))
    return generate_latest(registry)
