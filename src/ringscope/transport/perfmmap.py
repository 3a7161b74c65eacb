"""One perf event's mmap'ed ring (struct perf_event_mmap_page + data
pages): the part the BPF perf buffer (perfbuf.py) and the profiler's sample
ring (perfring.py) share. It knows positions and memory ordering, not what
the records mean.

The kernel writes records at data_head and reads our data_tail to know
what space it may reuse (kernel/events/ring_buffer.c: perf_output_put_handle
publishes data_head after the data; perf_output_space reads data_tail).
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._perf.attr import mmap_page_offsets
from ..btf import Btf
from ..errors import error_from_errno
from .ordering import TSO, fence

__all__ = ["PAGE", "REC_HDR", "MmapPage", "PerfMmap", "per_cpu_pages", "ring_bytes"]

PAGE = mmap.PAGESIZE
REC_HDR = 8  # struct perf_event_header: u32 type, u16 misc, u16 size


def per_cpu_pages(total_bytes: int, ncpus: int) -> int:
    """Data pages per CPU ring so that all rings together take at most
    `total_bytes`: a power of two (the kernel's rule), at least one."""
    pages = max(1, total_bytes // ncpus // PAGE)
    return 1 << (pages.bit_length() - 1)


@dataclass(frozen=True)
class MmapPage:
    """Offsets in struct perf_event_mmap_page, from the kernel's BTF."""

    data_head: int
    data_tail: int

    @classmethod
    def from_btf(cls, btf: Btf) -> MmapPage:
        page = btf.struct_layout("perf_event_mmap_page")
        return cls(page.field("data_head").offset, page.field("data_tail").offset)

    @classmethod
    def current(cls) -> MmapPage:
        """This kernel's offsets, from the BTF-derived cache (_perf/attr.py):
        parsing vmlinux BTF takes ~0.3 s, a profiler's whole start-up."""
        off = mmap_page_offsets()
        return cls(off["data_head"], off["data_tail"])


def ring_bytes(data: np.ndarray, pos: int, n: int) -> np.ndarray:
    """n bytes at ring position pos, copied across the wrap if needed."""
    size = len(data)
    off = pos % size
    if off + n <= size:
        return data[off : off + n]
    return np.concatenate([data[off:], data[: n - (size - off)]])


# (ring data, tail, head) -> new tail: the consumer of one batch of records.
Consume = Callable[[np.ndarray, int, int], int]


class PerfMmap:
    """The mmap of one perf fd: a control page and `pages` data pages.
    Owns the mapping, not the fd. Single consumer."""

    def __init__(self, fd: int, pages: int, offsets: MmapPage, what: str) -> None:
        try:
            prot = mmap.PROT_READ | mmap.PROT_WRITE
            self._mm = mmap.mmap(fd, (1 + pages) * PAGE, mmap.MAP_SHARED, prot)
        except OSError as e:
            raise error_from_errno(f"mmap {what}", e.errno or 22) from None
        self.size = pages * PAGE
        self._head = np.frombuffer(self._mm, np.uint64, 1, offsets.data_head)
        self._tail = np.frombuffer(self._mm, np.uint64, 1, offsets.data_tail)
        self.data = np.frombuffer(self._mm, np.uint8, self.size, PAGE)

    def pending(self) -> int:
        return int(self._head[0]) - int(self._tail[0])

    def consume(self, fn: Consume) -> None:
        """Run `fn` on the records between data_tail and data_head, then
        store the tail it returns."""
        tail = int(self._tail[0])
        # data_head is loaded before the records (ordering.py: acquire), and
        # data_tail stored only after the copies (release): the kernel's
        # perf_output_put_handle and perf_output_space follow the same rule.
        head = int(self._head[0])
        if not TSO:
            fence()
        pos = fn(self.data, tail, head)
        if not TSO:
            fence()
        self._tail[0] = pos

    def close(self) -> None:
        if self._mm.closed:
            return
        del self._head, self._tail, self.data
        self._mm.close()
