"""What every transport hands on, and the interface the pipeline reads it
through. The stream never asks which transport it has: a BPF ring buffer,
the per-CPU perf buffers or a capture file all look the same from here."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["RING_HDR_SIZE", "Reader", "Run", "Window"]

RING_HDR_SIZE = 8  # struct bpf_ringbuf_hdr: u32 len, u32 pg_off; every Run slot starts with one


@dataclass(frozen=True, slots=True)
class Run:
    """`count` consecutive records of one length, `stride` bytes apart,
    copied out of the transport. Each slot starts with an 8-byte header
    (the ring buffer's own, or zeros in its shape), then the record."""

    stride: int
    data: np.ndarray  # uint8, count * stride bytes

    @property
    def count(self) -> int:
        return len(self.data) // self.stride


# When event types interleave in the ring (open, syscall, open, syscall ...),
# cutting a drain at every change of length makes one Run per record, and
# every later stage (decode, encode, the hub's blocks) then works per record.
# A Window keeps one group per record length instead, each a single Run, with
# each record's position in stream order beside it, so the stages work per
# type and the order is still there to restore.


@dataclass(frozen=True, slots=True)
class Window:
    """`count` records in stream order, positions 0..count-1. `groups[i]`
    holds the records of one stride in stream order; `index[i]` their
    positions (ascending int64)."""

    groups: list[Run]
    index: list[np.ndarray]
    count: int

    @classmethod
    def of(cls, runs: list[Run]) -> Window:
        """The window of `runs` (in stream order): one group per stride."""
        by_stride: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        k = 0
        for run in runs:
            datas, idx = by_stride.setdefault(run.stride, ([], []))
            datas.append(run.data)
            idx.append(np.arange(k, k + run.count, dtype=np.int64))
            k += run.count
        groups = [Run(s, d[0] if len(d) == 1 else np.concatenate(d)) for s, (d, _) in by_stride.items()]
        index = [i[0] if len(i) == 1 else np.concatenate(i) for _, i in by_stride.values()]
        return cls(groups, index, k)

    def runs(self) -> list[Run]:
        """The records as Runs in stream order (what a capture stores)."""
        if self.count == 0:
            return []
        if len(self.groups) == 1:
            return list(self.groups)
        stride = np.empty(self.count, np.int64)
        for run, idx in zip(self.groups, self.index, strict=True):
            stride[idx] = run.stride
        starts = [0, *(np.flatnonzero(stride[1:] != stride[:-1]) + 1).tolist(), self.count]
        rows = {run.stride: run.data.reshape(-1, run.stride) for run in self.groups}
        where = np.empty(self.count, np.int64)  # each record's row in its group
        for idx in self.index:
            where[idx] = np.arange(len(idx))
        out = []
        for a, b in itertools.pairwise(starts):
            s = int(stride[a])
            out.append(Run(s, rows[s][int(where[a]) : int(where[a]) + b - a].reshape(-1)))
        return out


class Reader(Protocol):
    """A single-consumer source of Runs. Not thread-safe; one owner closes it.

    - fileno(): an fd that becomes readable when the producer wakes us
      (for event loops);
    - wait(timeout): sleep until woken or `timeout` seconds; True if there
      is something to drain;
    - drain(flush=False): every record available now, in stream order;
      flush=True for the last drain of a stream, when nothing more will be
      produced (a transport that holds records back to order them hands
      those on too);
    - gather(flush=False): what drain() returns, as a Window (one group
      per record length, stream order kept as positions);
    - pending(): bytes produced and not yet drained; `size` is the capacity
      they are measured against (the ring fill is their ratio);
    - close(): release the mappings; idempotent."""

    size: int

    def fileno(self) -> int: ...
    def wait(self, timeout: float) -> bool: ...
    def drain(self, *, flush: bool = False) -> list[Run]: ...
    def gather(self, *, flush: bool = False) -> Window: ...
    def pending(self) -> int: ...
    def close(self) -> None: ...
