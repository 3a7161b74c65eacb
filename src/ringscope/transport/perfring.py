"""The profiler's transport: the per-CPU rings of sampling perf events,
read as perf itself reads them. Each ring interleaves samples with the
side-band records (MMAP2, COMM, FORK, EXIT) of the tasks seen on its CPU;
read() returns them decoded, and the consumer orders all CPUs by time.

Records vary in size (a sample with a user stack copy is 8 KiB, an MMAP2
record 100 bytes), so unlike perfbuf.py this walks them one by one: at
1 kHz per CPU that is a few thousand records a second.
"""

from __future__ import annotations

import select
import struct

import numpy as np

from ..closing import Closing
from .perfmmap import REC_HDR, MmapPage, PerfMmap, ring_bytes
from .perfrecords import Record, SampleFormat, decode

__all__ = ["SampleRings", "walk"]


def walk(data: np.ndarray, tail: int, head: int, fmt: SampleFormat, out: list[Record]) -> int:
    """Decode the records of ring `data` from `tail` to `head` into `out`;
    return the new tail."""
    size, pos = len(data), tail
    view = data.data
    while pos < head:
        # Records are 8-aligned and the ring a multiple of 8: a header never wraps.
        _typ, _misc, rlen = struct.unpack_from("<IHH", view, pos % size)
        if rlen < REC_HDR:
            break  # a sane kernel never writes this: stop rather than spin
        rec = decode(ring_bytes(data, pos, rlen).tobytes(), fmt)
        if rec is not None:
            out.append(rec)
        pos += rlen
    return pos


class SampleRings(Closing):
    """The mmap'ed rings of sampling perf events, one per CPU (events on
    the same CPU share it through PERF_EVENT_IOC_SET_OUTPUT, done by their
    owner). Owns the mappings and an epoll fd, not the perf fds. Single
    consumer: not thread-safe."""

    def __init__(self, fds: list[int], pages: int, fmt: SampleFormat) -> None:
        self.fmt = fmt
        self._rings: list[PerfMmap] = []
        self._epoll = select.epoll()
        try:
            offsets = MmapPage.current()
            for fd in fds:
                self._rings.append(PerfMmap(fd, pages, offsets, "perf sample ring"))
                self._epoll.register(fd, select.EPOLLIN)
        except BaseException:
            self.close()
            raise
        self.size = sum(r.size for r in self._rings)

    def fileno(self) -> int:
        return self._epoll.fileno()

    def pending(self) -> int:
        return sum(r.pending() for r in self._rings)

    def wait(self, timeout: float) -> bool:
        """Sleep until a ring passes its watermark or `timeout` seconds."""
        if self.pending():
            return True
        self._epoll.poll(timeout)
        return self.pending() > 0

    def read(self) -> list[Record]:
        """Every record written so far, ring by ring (each in time order;
        not merged across CPUs)."""
        out: list[Record] = []
        for ring in self._rings:
            ring.consume(lambda data, tail, head: walk(data, tail, head, self.fmt, out))
        return out

    def close(self) -> None:
        for ring in self._rings:
            ring.close()
        self._rings.clear()
        if not self._epoll.closed:
            self._epoll.close()
