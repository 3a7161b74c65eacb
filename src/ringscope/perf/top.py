"""The data side of `ringscope top`: a Profiler left running, read every
refresh into the hottest symbols of the last interval."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..symbols import Kallsyms, Symbolizer
from ..symbols.resolver import KERNEL_DSO, UNKNOWN, Frame
from .sampling import Profiler

__all__ = ["TopRow", "TopSnapshot", "TopSampler"]


@dataclass(frozen=True)
class TopRow:
    samples: int
    share: float  # percent of the interval's samples
    comm: str
    dso: str
    symbol: str
    kernel: bool


@dataclass(frozen=True)
class TopSnapshot:
    rows: list[TopRow]
    interval_samples: int
    total_samples: int
    lost: int


class TopSampler:
    """Turns the profiler's cumulative in-kernel counts into per-interval
    rows. Owns nothing: the caller owns (and closes) the Profiler."""

    def __init__(self, profiler: Profiler) -> None:
        self.profiler = profiler
        self.kallsyms = Kallsyms.load()
        self._prev: dict[tuple[int, str, tuple[int, ...], tuple[int, ...]], int] = {}

    def _leaf(self, sym: Symbolizer, pid: int, kstack: list[int], ustack: list[int]) -> Frame:
        if kstack:
            return Frame(self.kallsyms.lookup(kstack[0]) or UNKNOWN, KERNEL_DSO, True)
        if ustack:
            return sym.user(pid, ustack[0])
        return Frame(UNKNOWN, UNKNOWN, False)

    def snapshot(self, limit: int = 30) -> TopSnapshot:
        self.profiler.poll()
        maps = {pid: list(ms) for pid, ms in self.profiler.maps.items()}
        sym = Symbolizer(maps, {})
        agg: Counter[tuple[str, str, str, bool]] = Counter()
        cur: dict[tuple[int, str, tuple[int, ...], tuple[int, ...]], int] = {}
        for s in self.profiler.samples():
            key = (s.pid, s.comm, tuple(s.kstack), tuple(s.ustack))
            cur[key] = s.count
            delta = s.count - self._prev.get(key, 0)
            if delta > 0:
                leaf = self._leaf(sym, s.pid, s.kstack, s.ustack)
                agg[(s.comm, leaf.dso, leaf.name, leaf.kernel)] += delta
        self._prev = cur
        interval = sum(agg.values())
        rows = [
            TopRow(n, 100.0 * n / interval, comm, dso, name, kernel)
            for (comm, dso, name, kernel), n in agg.most_common(limit)
        ]
        return TopSnapshot(rows, interval, sum(cur.values()), self.profiler.lost())
