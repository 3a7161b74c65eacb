"""/metrics of the fleet view: each host's exporter counters from its last
heartbeat (label `host`: a fleet has a bounded set of them), and the view's own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .state import FleetState

__all__ = ["exposition"]


class FleetCollector(Collector):
    def __init__(self, state: FleetState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        rows = self.state.hosts.table()
        for key, text in (("produced", "Events the host handed to its exporter"),
                          ("delivered", "Events of the host acknowledged by JetStream"),
                          ("lost", "Events the host's exporter dropped (loss stage export)")):  # fmt: skip
            family = CounterMetricFamily(f"ringscope_fleet_host_{key}_events", text, labels=["host"])
            for row in rows:
                family.add_metric([row["host"]], row[key])
            yield family
        yield GaugeMetricFamily("ringscope_fleet_clients", "Stream clients", value=self.state.clients)
        yield CounterMetricFamily("ringscope_fleet_delivered_events", "Events written to stream clients",
                                  value=self.state.delivered)  # fmt: skip
        yield GaugeMetricFamily("ringscope_fleet_nats_connected", "1 while connected to NATS",
                                value=1 if self.state.nc.is_connected else 0)  # fmt: skip


def exposition(state: FleetState) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(state))
    return generate_latest(registry)
