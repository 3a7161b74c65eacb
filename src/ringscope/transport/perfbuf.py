"""Reader for the BPF perf buffer (BPF_MAP_TYPE_PERF_EVENT_ARRAY): the
fallback transport for kernels without BPF_MAP_TYPE_RINGBUF (< 5.8), and
the other half of the ringbuf-versus-perfbuf comparison (docs/transports.md).

One PERF_COUNT_SW_BPF_OUTPUT perf event per online CPU, each with its own
mmap'ed ring; the fds go into the shared rs_perf map, where
bpf_perf_event_output(BPF_F_CURRENT_CPU) finds the ring of the CPU it runs
on. Each ring holds perf records: PERF_RECORD_SAMPLE carries one of our
records as PERF_SAMPLE_RAW data (u32 size, then the bytes, padded so the
perf record stays 8-aligned); PERF_RECORD_LOST says how many samples the
kernel could not write because the ring was full.

drain() hands on the same Run shape as RingReader (each record at +8 in a
`stride`-byte slot), so the decoder works unchanged.

Global order: the per-CPU rings are merged by the records' ts_ns. A record
is held until `reorder_ns` has passed since its timestamp, so that a record
still in flight on another CPU (stamped earlier, written later) can be
sorted in ahead of it. The cost is latency: every event waits reorder_ns
plus up to one drain interval (default 1 ms + 1 ms). A record that arrives
later than the window allows is passed on at once and counted in
`stats.late`; `stats.unordered_in` counts records that arrived out of
order before the merge. The hold is also bounded in count (`max_held`):
past it the oldest records go out early.

Wakeups: each CPU's ring wakes the reader once `wakeup_bytes` of data are
unread (attr.watermark), a quarter of the ring by default, the same policy
as the ring buffer's rs_wakeup_bytes; below that the reader drains on its
own timer. A wakeup per sample (wakeup_events = 1, libbpf's default) costs
the producer an irq_work per event.
"""

from __future__ import annotations

import contextlib
import os
import select
import struct
import time

import numpy as np

from .._libbpf import Map
from .._perf import syscall as perf_sys
from .._perf.attr import PerfEventAttr, constants
from ..closing import Closing
from ..errors import BadInput, RingscopeError, error_from_errno
from .base import RING_HDR_SIZE, Run, Window
from .perfmmap import PAGE, REC_HDR, MmapPage, PerfMmap, per_cpu_pages, ring_bytes
from .reorder import DEFAULT_REORDER_NS, PerfStats, ReorderBuffer
from .topology import online_cpus

__all__ = ["PERF_RECORD_LOST", "PERF_RECORD_SAMPLE", "PerfReader", "parse_records", "per_cpu_pages"]

PERF_RECORD_LOST = 2
PERF_RECORD_SAMPLE = 9
_REC_HDR = REC_HDR
_RAW_OFF = _REC_HDR + 4  # then u32 raw size, then the raw bytes
_OUT_HDR = RING_HDR_SIZE  # where the decoder expects a record: after a ring header
MAP_TYPE_PERF_EVENT_ARRAY = 4


def _slots(raw: np.ndarray, n: int, rlen: int) -> np.ndarray:
    """Copy n perf samples of rlen bytes into (n, rlen) slots laid out as
    RingReader's runs: the record starts at +8. A sample's raw data starts
    at +12 (8-byte perf header, u32 size), so each slot is the perf record
    shifted by 4 bytes; the last slot borrows 4 bytes of zero padding."""
    buf = np.empty(n * rlen + _RAW_OFF - _OUT_HDR, np.uint8)
    buf[: n * rlen] = raw
    buf[n * rlen :] = 0
    return buf[_RAW_OFF - _OUT_HDR :].reshape(n, rlen)


def parse_records(data: np.ndarray, tail: int, head: int, blocks: list[np.ndarray]) -> tuple[int, int]:
    """Walk the perf records of ring `data` (uint8, a power-of-two size)
    from position `tail` to `head`. Samples are appended to `blocks` as
    (n, record size) slots (see _slots), in ring order; a run of samples of
    one size is checked and copied with a few numpy operations, not one by
    one. Returns (new tail, sum of PERF_RECORD_LOST counts)."""
    size, lost, pos = len(data), 0, tail
    view = data.data
    while pos < head:
        off = pos % size
        # Records are 8-aligned and the ring a multiple of 8: a header never wraps.
        typ, _misc, rlen = struct.unpack_from("<IHH", view, off)
        if rlen < _REC_HDR:
            break  # a sane kernel never writes this: stop rather than spin
        if typ == PERF_RECORD_SAMPLE and off + rlen <= size:
            n = min((head - pos) // rlen, (size - off) // rlen)
            block = data[off : off + n * rlen].reshape(n, rlen)
            # The next n records, if they are all samples of this size.
            same = (block[:, :_RAW_OFF] == block[0, :_RAW_OFF]).all(axis=1)
            m = n if bool(same.all()) else int(np.argmin(same))
            blocks.append(_slots(data[off : off + m * rlen], m, rlen))
            pos += m * rlen
            continue
        if typ == PERF_RECORD_SAMPLE:  # wraps the end of the ring
            blocks.append(_slots(ring_bytes(data, pos, rlen), 1, rlen))
        elif typ == PERF_RECORD_LOST:  # header, u64 id, u64 lost
            lost += int(ring_bytes(data, pos + 16, 8).view(np.uint64)[0])
        pos += rlen
    return pos, lost


class _CpuRing:
    """One CPU's perf event and its mmap. Owns both."""

    def __init__(self, cpu: int, pages: int, wakeup_bytes: int, offsets: MmapPage) -> None:
        c = constants()
        attr = PerfEventAttr(
            type=c["PERF_TYPE_SOFTWARE"],
            config=c["PERF_COUNT_SW_BPF_OUTPUT"],
            sample_type=c["PERF_SAMPLE_RAW"],
            sample_period=1,
            watermark=1,
            wakeup_watermark=wakeup_bytes,
        )
        self.cpu = cpu
        try:
            self.fd = perf_sys.open_event(bytes(attr), -1, cpu)
        except OSError as e:
            raise error_from_errno(f"perf_event_open(BPF_OUTPUT, cpu {cpu})", e.errno or 22) from None
        try:
            self._ring = PerfMmap(self.fd, pages, offsets, f"perf buffer of cpu {cpu}")
        except BaseException:
            os.close(self.fd)
            raise
        self.size = self._ring.size

    def pending(self) -> int:
        return self._ring.pending()

    def read(self, blocks: list[np.ndarray]) -> int:
        """Append this ring's samples to `blocks`; return PERF_RECORD_LOST's count."""
        lost = 0

        def take(data: np.ndarray, tail: int, head: int) -> int:
            nonlocal lost
            pos, lost = parse_records(data, tail, head, blocks)
            return pos

        self._ring.consume(take)
        return lost

    def close(self) -> None:
        if self.fd < 0:
            return
        self._ring.close()
        os.close(self.fd)
        self.fd = -1


class PerfReader(Closing):
    """Consumes the perf buffer behind one PERF_EVENT_ARRAY map: opens the
    per-CPU events, puts their fds in the map, merges the rings by ts_ns.
    Owns the perf fds, mmaps and its epoll fd, not the map. Single
    consumer: not thread-safe.

    `size` is the total bytes of all CPU rings together (each CPU gets an
    equal power-of-two share), so a ringbuf and a perfbuf session with the
    same size use the same memory. `reorder_ns` may be changed at any time."""

    def __init__(
        self,
        perf_map: Map,
        size: int,
        *,
        reorder_ns: int = DEFAULT_REORDER_NS,
        max_held: int = 1 << 20,
        wakeup_bytes: int | None = None,
        cpus: list[int] | None = None,
    ) -> None:
        if perf_map.map_type != MAP_TYPE_PERF_EVENT_ARRAY:
            raise BadInput(f"map {perf_map.name} is not a perf event array (type {perf_map.map_type})")
        self.cpus = online_cpus() if cpus is None else cpus
        pages = per_cpu_pages(size, len(self.cpus))
        self.size = pages * PAGE * len(self.cpus)
        self.reorder_ns = reorder_ns
        self.merge = ReorderBuffer(max_held)
        self._map = perf_map
        self._rings: list[_CpuRing] = []
        self._epoll = select.epoll()
        wake = wakeup_bytes if wakeup_bytes is not None else pages * PAGE // 4
        try:
            offsets = MmapPage.current()
            for cpu in self.cpus:
                ring = _CpuRing(cpu, pages, max(1, min(wake, pages * PAGE // 2)), offsets)
                self._rings.append(ring)
                self._epoll.register(ring.fd, select.EPOLLIN)
                perf_map.update(cpu.to_bytes(4, "little"), ring.fd.to_bytes(4, "little"))
        except BaseException:
            self.close()
            raise

    @property
    def stats(self) -> PerfStats:
        return self.merge.stats

    def fileno(self) -> int:
        """An epoll fd over every CPU's event: readable after a wakeup."""
        return self._epoll.fileno()

    def pending(self) -> int:
        """Bytes written by producers and not yet read, over all CPUs."""
        return sum(r.pending() for r in self._rings)

    def held(self) -> int:
        """Records read but held back by the reorder window."""
        return self.merge.held()

    def wait(self, timeout: float) -> bool:
        """Sleep until a wakeup, `timeout` seconds, or the moment the oldest
        held record is due. True if anything is there to drain."""
        if self.pending():
            return True
        oldest = self.merge.oldest()
        due = None if oldest is None else oldest + self.reorder_ns
        if due is not None:
            timeout = min(timeout, max(0.0, (due - time.monotonic_ns()) / 1e9))
        self._epoll.poll(timeout)
        return self.pending() > 0 or (due is not None and time.monotonic_ns() >= due)

    def drain(self, *, flush: bool = False) -> list[Run]:
        """Read every CPU ring, then hand on, in ts order, the records whose
        reorder window has passed (all of them with flush=True)."""
        # The horizon is taken before the rings are read: a record stamped
        # before it was written (the window covers stamp-to-write) before we
        # read, so it is in this batch, however long the reads themselves
        # take or this thread is preempted between them.
        horizon = (1 << 64) - 1 if flush else time.monotonic_ns() - self.reorder_ns
        blocks: list[np.ndarray] = []
        for ring in self._rings:
            self.stats.kernel_lost += ring.read(blocks)
        self.merge.add(blocks)
        return self.merge.release(horizon)

    def gather(self, *, flush: bool = False) -> Window:
        """drain() as a Window: the merge hands on runs in ts order already."""
        return Window.of(self.drain(flush=flush))

    def close(self) -> None:
        """Remove our fds from the map, close the events. Idempotent."""
        for ring in self._rings:
            if ring.fd >= 0:
                with contextlib.suppress(RingscopeError):  # the map may be gone already
                    self._map.delete(ring.cpu.to_bytes(4, "little"))
            ring.close()
        self._rings.clear()
        self.merge.clear()
        if not self._epoll.closed:
            self._epoll.close()
