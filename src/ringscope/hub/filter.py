"""What one client wants: applied in the hub on a chunk's numpy columns;
the union over clients narrows the kernel side (fanout.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..events.mixed import Mixed
from ..events.records import Chunk

__all__ = ["ClientFilter"]


@dataclass(frozen=True)
class ClientFilter:
    """What one client wants. None means any. Applied in the hub on the
    chunk's numpy columns; its union across clients narrows the kernel side."""

    types: frozenset[str] | None = None
    pid: int | None = None
    tid: int | None = None
    uid: int | None = None
    comm: str | None = None

    @property
    def selects_rows(self) -> bool:
        """True when the filter looks inside events, not only at their type."""
        return not (self.pid is None and self.tid is None and self.uid is None and self.comm is None)

    def wants(self, type_name: str) -> bool:
        return self.types is None or type_name in self.types

    def select(self, chunk: Chunk) -> np.ndarray | None:
        """Indices of matching events, or None when every event matches."""
        recs = chunk.records
        mask: np.ndarray | None = None
        for col, val in (("pid", self.pid), ("tid", self.tid), ("uid", self.uid)):
            if val is not None:
                m = recs[col] == val
                mask = m if mask is None else mask & m
        if self.comm is not None:
            m = recs["comm"] == self.comm.encode()
            mask = m if mask is None else mask & m
        if mask is None or bool(mask.all()):
            return None
        return np.flatnonzero(mask)

    def select_mixed(self, batch: Mixed) -> np.ndarray | None:
        """Positions (ascending) of the events of `batch` this filter wants,
        types included, or None when every event matches."""
        picked: list[np.ndarray] = []
        for part in batch.parts:
            if self.wants(part.spec.name):
                pos = batch.positions(part)
                sel = self.select(part)
                picked.append(pos if sel is None else pos[sel])
        if sum(map(len, picked)) == batch.count:
            return None
        return np.sort(np.concatenate(picked)) if picked else np.empty(0, np.int64)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["types"] = None if self.types is None else sorted(self.types)
        return d
