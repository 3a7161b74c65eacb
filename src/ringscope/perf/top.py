"""The data side of `ringscope top`: a RingSampler left running, its new
records replayed every refresh into the hottest symbols of the interval.
The process maps carry over between refreshes (assemble.Assembler)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..symbols import Kallsyms
from .assemble import Assembler
from .ringsampler import RingSampler
from .symbolize import ProfileSymbols

__all__ = ["TopRow", "TopSampler", "TopSnapshot"]


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
    """Turns the sampler's records into per-interval rows. Owns nothing:
    the caller owns (and closes) the RingSampler."""

    def __init__(self, sampler: RingSampler, seeds: list[int] | None = None) -> None:
        self.sampler = sampler
        unwind = None
        if sampler.callgraph.mode == "dwarf":
            from .unwind import DwarfUnwinder

            unwind = DwarfUnwinder().unwind
        self.asm = Assembler(seeds, unwind)
        self.kallsyms = Kallsyms.load()
        self.total = 0

    def snapshot(self, limit: int = 30) -> TopSnapshot:
        self.sampler.collect()
        new = list(self.sampler.records)
        self.sampler.records.clear()  # top keeps counts, not records
        self.asm.feed(new)
        prof = self.asm.profile({}, self.kallsyms)
        self.asm.builder.rows.clear()
        syms = ProfileSymbols(prof)
        agg: Counter[tuple[str, str, str, bool]] = Counter()
        rows = prof.samples
        for stack, comm in zip(rows["stack"].tolist(), rows["comm"].tolist(), strict=True):
            ids = prof.stacks[stack]
            if not ids:
                continue
            leaf = syms.frame(ids[0])
            agg[(prof.comms[comm], leaf.dso, leaf.name, leaf.kernel)] += 1
        interval = sum(rows["count"])
        self.total += interval
        out = [
            TopRow(n, 100.0 * n / interval, comm, dso, name, kernel)
            for (comm, dso, name, kernel), n in agg.most_common(limit)
        ]
        return TopSnapshot(out, interval, self.total, self.asm.stats["lost"])
