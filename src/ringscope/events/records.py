"""What the reader hands on: runs of decoded events and loss records, in
stream order. A Chunk is a numpy view of consecutive events of one type;
rows (dicts) are made only when someone asks for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .layout import EventLayout
from .spec import Columns, EventSpec, Lookup, Row

__all__ = ["Chunk", "Item", "Lost"]

_HEADER_ORDER = ("ts_ns", "type", "cpu", "pid", "tid", "uid", "comm", "cgroup_id")


@dataclass(slots=True)
class Chunk:
    """`len(records)` events of one type, numbered seq0, seq0+1, ...; or,
    in a Mixed batch (events/mixed.py), numbered `seqs` (ascending, with the
    other types' events between them; seq0 is seqs[0])."""

    layout: EventLayout
    spec: EventSpec
    seq0: int
    records: np.ndarray
    seqs: np.ndarray | None = None  # int64, when not consecutive

    def __len__(self) -> int:
        return len(self.records)

    def _part(self, a: int, b: int) -> Chunk:
        """Events a..b-1 (views, no copy)."""
        if self.seqs is None:
            return Chunk(self.layout, self.spec, self.seq0 + a, self.records[a:b])
        seqs = self.seqs[a:b]
        seq0 = int(seqs[0]) if len(seqs) else self.seq0
        return Chunk(self.layout, self.spec, seq0, self.records[a:b], seqs)

    def split(self, k: int) -> tuple[Chunk, Chunk]:
        """The first `k` events and the rest, as two chunks (views, no copy)."""
        return self._part(0, k), self._part(k, len(self))

    def pieces(self, most: int) -> list[Chunk]:
        """This chunk cut into chunks of at most `most` events (views)."""
        if len(self) <= most:
            return [self]
        return [self._part(i, i + most) for i in range(0, len(self), most)]

    def seq_column(self) -> np.ndarray:
        """Each event's seq (int64)."""
        if self.seqs is not None:
            return self.seqs
        return np.arange(self.seq0, self.seq0 + len(self.records), dtype=np.int64)

    def column(self, name: str) -> np.ndarray:
        return self.records[name]

    def rows(self) -> list[Row]:
        """Decode to one dict per event, in the contract's field order."""
        recs = self.records
        cols: dict[str, list[Any]] = {}
        for name, fmt, _off in self.layout.fields:
            values = recs[name].tolist()
            if isinstance(fmt, str) and fmt.startswith("S") and name not in self.spec.raw_fields:
                values = [v.split(b"\0", 1)[0].decode(errors="replace") for v in values]
            elif isinstance(fmt, tuple):
                values = [bytes(v) for v in recs[name]]
            cols[name] = values
        cols["type"] = [self.spec.name] * len(recs)
        cols["seq"] = self.seq_column().tolist()
        order = _key_order(cols)
        rows = [dict(zip(order, vals, strict=True)) for vals in zip(*(cols[k] for k in order), strict=True)]
        if self.spec.finish is not None:
            self.spec.finish(rows)
        return rows

    def columns(self) -> Columns:
        """The fields as whole columns, keyed and ordered like `rows()` before
        `finish`: numpy views of the records (char arrays as `S<n>`, fixed
        arrays 2-D), except raw_fields, which are lists of bytes as `rows()`
        has them. The arrays may be views of the ring: never write to them."""
        recs = self.records
        n = len(recs)
        cols: Columns = {}
        for name, fmt, _off in self.layout.fields:
            raw = isinstance(fmt, str) and fmt.startswith("S") and name in self.spec.raw_fields
            cols[name] = recs[name].tolist() if raw else recs[name]
        cols["type"] = Lookup(np.zeros(n, np.intp), [self.spec.name])
        cols["seq"] = self.seq_column()
        return {k: cols[k] for k in _key_order(cols)}


def _key_order(cols: dict[str, Any]) -> list[str]:
    """The contract's order: seq, the common header, then the event's own fields."""
    order = ["seq", *(k for k in _HEADER_ORDER if k in cols)]
    return order + [k for k in cols if k not in order]


@dataclass(slots=True)
class Lost:
    """A loss record: `count` events dropped at `stage` (kernel, daemon, client)."""

    seq: int
    stage: str
    count: int
    ts_ns: int
    detail: dict[str, Any] = field(default_factory=dict)

    def row(self) -> Row:
        return {"seq": self.seq, "ts_ns": self.ts_ns, "type": "lost", "stage": self.stage,
                "count": self.count, **self.detail}  # fmt: skip


Item = Chunk | Lost
