"""A reading of an in-kernel aggregate as plain rows: differences between
readings, JSON for /api/hist and bcc-style text for `ringscope hist`
(funccount's table, funclatency's and runqlat's log2 bars).

Rows are cumulative and exact. When the kernel map held its cap of label
sets, the events of every other key are in `other` (and `overflow` says how
many events that was): totals always include them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["OTHER", "HistRow", "HistSnapshot"]

OTHER = "other"  # the label of the events whose key did not fit in the map


@dataclass(frozen=True)
class HistRow:
    key: int | str | None  # None: no `by`
    count: int
    sum: int = 0  # of the values (ns, bytes) for log2 histograms
    slots: tuple[int, ...] = ()  # slots[i]: values in [2^i, 2^(i+1)) (0 in slot 0); empty for counts

    def minus(self, old: HistRow | None) -> HistRow:
        if old is None:
            return self
        slots = tuple(a - b for a, b in zip(self.slots, old.slots, strict=True))
        return HistRow(self.key, self.count - old.count, self.sum - old.sum, slots)

    def buckets(self) -> list[dict[str, int]]:
        """Non-cumulative log2 buckets up to the last non-empty one: `le` is
        the largest value the bucket holds."""
        last = max((i for i, c in enumerate(self.slots) if c), default=-1)
        return [{"le": (1 << (i + 1)) - 1, "count": c} for i, c in enumerate(self.slots[: last + 1])]


@dataclass(frozen=True)
class HistSnapshot:
    """One reading of the maps. JSON-ready with as_dict(); text with render()."""

    event: str
    by: str | None
    kind: str  # "count" or "log2"
    unit: str  # "" for counts, "nsecs" for latencies, "bytes" or "" for values
    ts_ns: int
    rows: tuple[HistRow, ...]
    overflow: int = 0  # events whose key did not fit in the map: they are in `other`
    interval: bool = False  # True: counts since the previous snapshot
    other: HistRow | None = None  # the folded label sets; None while nothing overflowed

    @property
    def total(self) -> int:
        return sum(r.count for r in self.rows) + (self.other.count if self.other else 0)

    def minus(self, old: HistSnapshot | None) -> HistSnapshot:
        """Counts since `old` (for periodic output)."""
        if old is None:
            return HistSnapshot(**{**self.__dict__, "interval": True})
        before = {r.key: r for r in old.rows}
        rows = tuple(d for r in self.rows if (d := r.minus(before.get(r.key))).count)
        other = self.other.minus(old.other) if self.other else None
        return HistSnapshot(self.event, self.by, self.kind, self.unit, self.ts_ns, rows,
                            self.overflow - old.overflow, True, other if other and other.count else None)  # fmt: skip

    def all_rows(self) -> tuple[HistRow, ...]:
        """The rows, then `other` when it holds anything."""
        return self.rows + ((self.other,) if self.other and self.other.count else ())

    def as_dict(self) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for r in self.all_rows():
            row: dict[str, Any] = {"key": r.key, "count": r.count}
            if self.kind == "log2":
                row["sum"] = r.sum
                row["buckets"] = r.buckets()
            rows.append(row)
        return {"event": self.event, "by": self.by, "kind": self.kind, "unit": self.unit, "ts_ns": self.ts_ns,
                "interval": self.interval, "total": self.total, "overflow": self.overflow, "rows": rows}  # fmt: skip

    def render(self) -> str:
        """bcc-style text: a count table, or one log2 histogram per key."""
        if self.kind == "count":
            return _render_counts(self)
        return "\n\n".join(_render_log2(self, r) for r in self.all_rows()) or f"(no {self.event} events)"


def _render_counts(s: HistSnapshot) -> str:
    rows = sorted(s.rows, key=lambda r: (-r.count, str(r.key)))
    head = f"{(s.by or 'event').upper():<24} {'COUNT':>12}"
    lines = [head] + [f"{s.event if r.key is None else str(r.key):<24} {r.count:>12}" for r in rows]
    if s.other and s.other.count:
        lines.append(f"{OTHER:<24} {s.other.count:>12}")
    if s.overflow:
        lines.append(f"({s.overflow} events counted as {OTHER!r}: the map holds its maximum of label sets)")
    return "\n".join(lines)


def _render_log2(s: HistSnapshot, r: HistRow, width: int = 40) -> str:
    first = min((i for i, c in enumerate(r.slots) if c), default=0)
    last = max((i for i, c in enumerate(r.slots) if c), default=0)
    peak = max(r.slots, default=0) or 1
    title = f"{s.by} = {r.key}" if s.by else s.event
    unit = s.unit or "value"
    lines = [title, f"{unit:>20} {'':<14}: {'count':<8} distribution"]
    for i in range(first, last + 1):
        lo, hi = (0 if i == 0 else 1 << i), (1 << (i + 1)) - 1
        bar = "*" * (r.slots[i] * width // peak)
        lines.append(f"{lo:>20} -> {hi:<12}: {r.slots[i]:<8} |{bar:<{width}}|")
    avg = r.sum // r.count if r.count else 0
    u = f" {s.unit}" if s.unit else ""
    lines.append(f"avg = {avg}{u}, total: {r.sum}{u}, count: {r.count}")
    return "\n".join(lines)
