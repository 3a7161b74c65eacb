"""The sizing rules of a transport, written once: what ring sizes are valid
and when the producer wakes the reader."""

from __future__ import annotations

import mmap

from ..errors import BadInput

__all__ = ["DEFAULT_RING_SIZE", "MAX_RING_SIZE", "MIN_RING_SIZE", "check_ring_size", "default_wakeup"]

DEFAULT_RING_SIZE = 1 << 24  # 16 MiB
MIN_RING_SIZE = mmap.PAGESIZE  # the kernel wants a page-aligned power of two
# max_entries is a u32, so the largest power of two is 2 GiB; its data area
# is mapped twice in our address space (see ringbuf.py), and 1 GiB already
# holds millions of events: beyond that a bigger ring only hides a consumer
# that cannot keep up.
MAX_RING_SIZE = 1 << 30


def check_ring_size(size: int) -> int:
    """`size` if it is a valid ring size, else BadInput naming the rule."""
    if size < MIN_RING_SIZE:
        raise BadInput(f"ring size {size} is too small (minimum {MIN_RING_SIZE} bytes)")
    if size > MAX_RING_SIZE:
        raise BadInput(f"ring size {size} is too large (maximum {MAX_RING_SIZE} bytes, 1G)")
    if size & (size - 1):
        raise BadInput(f"ring size {size} is not a power of two")
    return size


def default_wakeup(size: int) -> int:
    """Bytes of unread data at which the producer wakes the reader: a
    quarter of the ring. Early enough that a burst never fills the ring
    while the reader sleeps on its timer, late enough that wakeups (about
    1 us of producer time each on a slow VM) stay rare."""
    return size // 4
