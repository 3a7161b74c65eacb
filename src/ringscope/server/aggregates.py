"""The aggregates `serve` keeps in the kernel for as long as it runs
(`--aggregate`, `--config`, `POST /api/aggregates`), read at every scrape
of /metrics and every poll of /api/aggregates.

An AggregateSet owns its Histograms: each is opened (loaded, attached) when
added and closed when removed or when the set closes, in reverse order.
Adding is two steps so that a daemon can refuse a bad request before it
loads anything: prepare() resolves the event, plans the programs and checks
the metric names; add() opens. Not thread-safe: callers serialise changes
and reads (the server holds `lock` around them, and opens in a worker)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..closing import Closing
from ..errors import BadInput
from ..sources.hist import Histogram
from ..sources.hist_query import HistQuery
from .aggregate_names import MetricName, check_names, metric_name

__all__ = ["MAX_AGGREGATES", "SERVE_MAX_LABELS", "Aggregate", "AggregateSet"]

SERVE_MAX_LABELS = 1024  # label sets per aggregate unless max_labels says otherwise
MAX_AGGREGATES = 64  # each is one BPF object with its own maps


@dataclass(frozen=True)
class Aggregate:
    """One aggregate: its id (the canonical spec), its kernel side and its name in /metrics."""

    id: str
    hist: Histogram
    metric: MetricName


class AggregateSet(Closing):
    def __init__(self) -> None:
        self._items: dict[str, Aggregate] = {}
        self.lock = asyncio.Lock()  # the server's: held around changes and reads

    def __iter__(self) -> Iterator[Aggregate]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def get(self, agg_id: str) -> Aggregate | None:
        return self._items.get(agg_id)

    def prepare(self, query: HistQuery, pending: Iterable[Aggregate] = ()) -> Aggregate:
        """Resolve and plan `query` and name its metric, checked against the
        aggregates here and `pending` (prepared, not yet added). Loads
        nothing. BadInput for a bad query, a duplicate or a name clash."""
        others = [*self._items.values(), *pending]
        if len(others) >= MAX_AGGREGATES:
            raise BadInput(f"too many aggregates (at most {MAX_AGGREGATES})")
        if any(a.id == query.spec for a in others):
            raise BadInput(f"aggregate {query.spec!r} already exists")
        hist = Histogram(query, default_max_labels=SERVE_MAX_LABELS)
        metric = metric_name(hist)
        check_names([a.metric for a in others], metric, query.spec)
        return Aggregate(query.spec, hist, metric)

    def add(self, agg: Aggregate) -> None:
        """Open `agg` (blocking: load and attach) and keep it. On failure
        nothing is kept and the error propagates."""
        if agg.id in self._items:
            raise BadInput(f"aggregate {agg.id!r} already exists")
        agg.hist.open()
        self._items[agg.id] = agg

    def prepare_all(self, queries: Iterable[HistQuery]) -> list[Aggregate]:
        """prepare() each query, checked against each other too."""
        prepared: list[Aggregate] = []
        for q in queries:
            prepared.append(self.prepare(q, prepared))
        return prepared

    def add_all(self, prepared: Iterable[Aggregate]) -> None:
        """add() each, in order. On failure the ones opened stay, for close()."""
        for agg in prepared:
            self.add(agg)

    def remove(self, agg_id: str) -> bool:
        """Detach and forget one aggregate; its series leave /metrics."""
        agg = self._items.pop(agg_id, None)
        if agg is None:
            return False
        agg.hist.close()
        return True

    def close(self) -> None:
        """Close every aggregate, the last added first. Idempotent."""
        while self._items:
            _, agg = self._items.popitem()
            agg.hist.close()
