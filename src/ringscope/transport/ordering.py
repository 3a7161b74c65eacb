"""Memory ordering for readers of memory the kernel writes concurrently.

The kernel publishes with release stores (smp_store_release of a record
header's length once its data is written, of producer_pos once space is
reserved) and reads our consumer position with an acquire load. A reader
therefore needs, between its loads of a position or header and its loads of
the data behind them, an acquire ordering; and between its loads of the data
and its store of the new consumer position, a release ordering (the kernel
may reuse the space as soon as it sees the store).

On TSO machines (x86-64, s390x) the hardware gives both for plain loads and
stores: loads are not reordered with older loads, and stores are not
reordered with older loads. Each numpy call is an opaque C call, so the C
compiler cannot move our accesses across them either. There `fence()` is a
no-op.

Elsewhere (arm64, ppc64le, riscv64), `fence()` releases and re-acquires an
uncontended lock: POSIX requires lock operations to synchronise memory (its
list of functions that do includes sem_post/sem_wait and
pthread_mutex_lock/unlock, which CPython's Lock is built on), so everything
before the release is ordered before everything after the acquire, a full
fence for our purpose. It costs one uncontended lock round trip per call;
readers call it once per batch, not per record. This path is reasoned, not
tested here: the machines we test on are x86-64.
"""

from __future__ import annotations

import platform
import threading

__all__ = ["TSO", "fence"]

TSO = platform.machine() in ("x86_64", "AMD64", "i386", "i686", "s390x")

_lock = threading.Lock()
_lock.acquire()


def _lock_fence() -> None:
    _lock.release()
    _lock.acquire()


def _no_fence() -> None:
    pass


fence = _no_fence if TSO else _lock_fence
