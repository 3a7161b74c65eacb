"""Rates over time for the dashboard's chart: the hub's counters sampled
once a second into a bounded history (15 minutes), so that a page opened
now shows the minutes before it too.

Per type and second: events produced (read from the ring), delivered
(written to clients, summed over them) and dropped (the kernel's drops of
that type, when the kernel counts them apart, plus the clients'
back-pressure drops). A type the kernel's type mask turned off has no
value for that second (null): "not collected", not zero."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from typing import Any

from ..hub import BACKPRESSURE, Hub

__all__ = ["HISTORY", "Rates"]

HISTORY = 900  # samples kept: 15 minutes at one a second
METRICS = ("produced", "delivered", "dropped")

Totals = dict[str, tuple[int, int, int]]


class Rates:
    """The sampler and its history. Runs on the server's loop (run())."""

    def __init__(self, hub: Hub, *, interval: float = 1.0, size: int = HISTORY) -> None:
        self.hub = hub
        self.interval = interval
        self._t: deque[float] = deque(maxlen=size)
        self._rates: deque[dict[str, tuple[float, float, float] | None]] = deque(maxlen=size)
        self._last: tuple[float, Totals] | None = None

    def _totals(self) -> Totals:
        hub = self.hub
        dropped: Counter[str] = Counter()
        for (reason, type_name), n in hub.client_lost().items():
            if reason in BACKPRESSURE:
                dropped[type_name] += n
        kernel = hub.kernel_drops()
        return {t: (hub.produced.get(t, 0), hub.delivered.get(t, 0), dropped[t] + kernel.get(t, 0))
                for t in hub.types}  # fmt: skip

    def sample(self) -> None:
        now, totals = time.time(), self._totals()
        if self._last is not None:
            t0, before = self._last
            dt = max(now - t0, 1e-6)
            collected = self.hub.collected()
            row: dict[str, tuple[float, float, float] | None] = {}
            for t, counts in totals.items():
                diffs = [max(a - b, 0) / dt for a, b in zip(counts, before.get(t, (0, 0, 0)), strict=True)]
                row[t] = None if t not in collected and not any(diffs) else (diffs[0], diffs[1], diffs[2])
            self._t.append(now)
            self._rates.append(row)
        self._last = (now, totals)

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def since(self, t0: float = 0.0) -> dict[str, Any]:
        """Samples after unix time t0, in columns (uPlot's data layout)."""
        idx = [i for i, t in enumerate(self._t) if t > t0]
        collected = self.hub.collected()
        series: dict[str, dict[str, list[float | None]]] = {}
        for t in self.hub.types:
            cols: dict[str, list[float | None]] = {m: [] for m in METRICS}
            for i in idx:
                r = self._rates[i].get(t)
                for k, m in enumerate(METRICS):
                    cols[m].append(None if r is None else round(r[k], 3))
            series[t] = cols
        return {
            "interval": self.interval,
            "t": [round(self._t[i], 3) for i in idx],
            "series": series,
            "collected": {t: t in collected for t in self.hub.types},
        }
