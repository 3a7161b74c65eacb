"""Merging records read from several per-CPU rings into one time order.

A record is held until `reorder_ns` has passed since its timestamp, so that
a record still in flight on another CPU (stamped earlier, written later) can
be sorted in ahead of it; see perfbuf.py for the reader that feeds it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .base import RING_HDR_SIZE, Run

__all__ = ["DEFAULT_REORDER_NS", "PerfStats", "ReorderBuffer"]

DEFAULT_REORDER_NS = 1_000_000  # 1 ms
_TS_OFF = RING_HDR_SIZE  # rs_header.ts_ns is the first member of every record, after the slot header


@dataclass
class PerfStats:
    """Counters of one reader. `kernel_lost` is the sum of PERF_RECORD_LOST:
    the same drops the BPF side counts in rs_drops when an output fails, so
    it is a cross-check, never added to the loss total."""

    samples: int = 0
    kernel_lost: int = 0
    unordered_in: int = 0
    late: int = 0
    held: int = 0


def _stamps(slots: np.ndarray) -> np.ndarray:
    """ts_ns of every slot, read in place (one strided, unaligned view)."""
    n, stride = slots.shape
    return np.ndarray((n,), "<u8", slots, _TS_OFF, (stride,)).copy()


def _take(rows: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """rows[idx] for (n, S) uint8 rows, as flat bytes: one memcpy per row
    through a void view instead of S one-byte copies."""
    stride = rows.shape[1]
    out: np.ndarray = np.ascontiguousarray(rows).reshape(-1).view(f"V{stride}")[idx].view(np.uint8)
    return out


class ReorderBuffer:
    """Merges records read from several per-CPU rings into ts_ns order.
    Holds what it has been given until release() is told the horizon up to
    which nothing earlier can still arrive; at most `max_held` records (past
    that the oldest go out early). Not thread-safe."""

    def __init__(self, max_held: int = 1 << 20) -> None:
        self.max_held = max_held
        self.stats = PerfStats()
        self._held: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._max_in = 0  # largest ts given so far (before the merge)
        self._max_out = 0  # largest ts handed on so far (after the merge)

    def held(self) -> int:
        return sum(len(ts) for group in self._held.values() for ts, _ in group)

    def oldest(self) -> int | None:
        firsts = [int(ts.min()) for group in self._held.values() for ts, _ in group if len(ts)]
        return min(firsts) if firsts else None

    def add(self, blocks: list[np.ndarray]) -> None:
        """Take (n, S) slots from parse_records, in the order they were read."""
        if not blocks:
            return
        stamps = []
        for slots in blocks:
            ts = _stamps(slots)
            self._held.setdefault(slots.shape[1], []).append((ts, slots))
            stamps.append(ts)
        order_in = np.concatenate(stamps)
        prior = np.maximum.accumulate(np.concatenate([np.array([self._max_in], np.uint64), order_in[:-1]]))
        self.stats.unordered_in += int(np.count_nonzero(order_in < prior))
        self.stats.late += int(np.count_nonzero(order_in < self._max_out))
        self._max_in = max(self._max_in, int(order_in.max()))
        self.stats.samples += len(order_in)
        self.stats.held = self.held()

    def release(self, horizon: int) -> list[Run]:
        """Runs, in ts order, of every held record with ts <= horizon."""
        if not self._held:
            return []
        strides = sorted(self._held)
        ts_parts, rows_parts = [], []
        for s in strides:
            group = self._held[s]
            ts_parts.append(np.concatenate([ts for ts, _ in group]) if len(group) > 1 else group[0][0])
            rows_parts.append(np.concatenate([rows for _, rows in group]) if len(group) > 1 else group[0][1])
        ts_all = np.concatenate(ts_parts) if len(ts_parts) > 1 else ts_parts[0]
        n = len(ts_all)
        if len(ts_parts) == 1 and bool((ts_all[1:] >= ts_all[:-1]).all()):
            # Already in order (one CPU busy, or one record size): no sort, no gather.
            k = max(int(np.searchsorted(ts_all, np.uint64(horizon), side="right")), n - self.max_held)
            s, rows = strides[0], rows_parts[0]
            self._held = {s: [(ts_all[k:], rows[k:])]} if k < n else {}
            if k:
                self._max_out = max(self._max_out, int(ts_all[k - 1]))
            self.stats.held = n - k
            return [Run(s, rows[:k].reshape(-1))] if k else []
        gid = np.concatenate([np.full(len(t), i, np.int64) for i, t in enumerate(ts_parts)])
        rid = np.concatenate([np.arange(len(t)) for t in ts_parts])
        order = np.argsort(ts_all, kind="stable")
        k = int(np.searchsorted(ts_all[order], np.uint64(horizon), side="right"))
        k = max(k, n - self.max_held)
        runs: list[Run] = []
        if k:
            out = order[:k]
            self._max_out = max(self._max_out, int(ts_all[out[-1]]))
            g = gid[out]
            cuts = [0, *(np.flatnonzero(g[1:] != g[:-1]) + 1).tolist(), k]
            for a, b in itertools.pairwise(cuts):
                i = int(g[a])
                runs.append(Run(strides[i], _take(rows_parts[i], rid[out[a:b]])))
        kept = np.ones(n, bool)
        kept[order[:k]] = False
        self._held = {}
        start = 0
        for s, ts, rows in zip(strides, ts_parts, rows_parts, strict=True):
            mask = kept[start : start + len(ts)]
            start += len(ts)
            if mask.any():
                self._held[s] = [(ts[mask], rows[mask])]
        self.stats.held = n - k
        return runs

    def clear(self) -> None:
        self._held.clear()
