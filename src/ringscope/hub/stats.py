"""The hub's own counters, kept in the shape Prometheus wants: counters that
only go up, and a histogram cumulative since start. The hot path bumps
plain integers; /metrics and /api/status read them at scrape time."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable

from .loss import REASONS, Reason

__all__ = ["BATCH_BUCKETS", "HubStats", "Histogram"]

BATCH_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144)  # events per drain


class Histogram:
    """Observations in buckets by upper bound, cumulative since start."""

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = tuple(bounds)
        self._counts = [0] * (len(self.bounds) + 1)  # the last: above every bound
        self.sum = 0
        self.count = 0

    def observe(self, value: int) -> None:
        self._counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def buckets(self) -> list[tuple[str, int]]:
        """(le, cumulative count) per bound, then ("+Inf", count)."""
        out = []
        acc = 0
        for bound, n in zip(self.bounds, self._counts, strict=False):
            acc += n
            out.append((str(bound), acc))
        out.append(("+Inf", self.count))
        return out


class HubStats:
    """Totals over the hub's life. Per-client counters live in each
    Subscriber; those of clients that left are added here, so totals over
    clients never go down as clients come and go."""

    def __init__(self, types: Iterable[str]) -> None:
        names = list(types)
        # Zero from the start for every traced type: a series that appears
        # only once its first event does breaks rate() over that moment.
        self.produced: Counter[str] = Counter(dict.fromkeys(names, 0))
        self.delivered: Counter[str] = Counter(dict.fromkeys(names, 0))
        self.departed_lost: Counter[tuple[Reason, str]] = Counter()
        self.connections: Counter[str] = Counter()  # stream clients accepted, per kind
        self.replay_gaps_unknown = 0  # resumes whose gap could not be counted
        self.batches = Histogram(BATCH_BUCKETS)
        self.polls = 0

    def client_lost(self, live: Iterable[Counter[tuple[Reason, str]]]) -> dict[tuple[Reason, str], int]:
        """Events lost by clients, per (reason, type), departed clients
        included; every reason and type present (zero if none)."""
        total: Counter[tuple[Reason, str]] = Counter({(r, t): 0 for r in REASONS for t in self.produced})
        total.update(self.departed_lost)
        for lost in live:
            total.update(lost)
        return dict(total)
