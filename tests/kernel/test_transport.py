"""Both transports on the real kernel: the same triggered events, the perf
buffer merged into ts order, exact loss accounting under a flood, and the
automatic fallback when the probe reports no ringbuf."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from ringscope import features
from ringscope.events.records import Chunk, Item, Lost
from ringscope.filters import Filter
from ringscope.session import Session
from ringscope.sources.syscalls import syscall_number
from ringscope.transport.perfbuf import PerfReader
from tests.conftest import need

TRANSPORTS = ["ringbuf", "perfbuf"]


def two_cpus() -> list[int]:
    cpus = sorted(os.sched_getaffinity(0))
    need(len(cpus) >= 2, "needs two CPUs")
    return cpus[:2]


def drain_until(s: Session, finished: Callable[[], bool], timeout: float = 60.0) -> list[Item]:
    """Poll until `finished()` held before a poll that left nothing behind:
    nothing unread in the kernel, nothing held by the perf merge."""
    items: list[Item] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = finished()  # before the poll: it then sees every event
        items.extend(s.poll(0.01))
        assert s.reader is not None
        held = s.reader.held() if isinstance(s.reader, PerfReader) else 0
        if done and held == 0 and s.reader.pending() == 0:
            return items
    raise AssertionError("the stream did not settle")


def rows(items: list[Item]) -> list[dict[str, object]]:
    return [r for it in items if isinstance(it, Chunk) for r in it.rows()]


# A child pinned to one CPU: names itself (the filter matches on comm), says
# "ready", floods getppid() after one byte on stdin, says "done", then after
# another byte makes one last call (which makes the perf buffer write its
# pending PERF_RECORD_LOST) and exits.
CHILD = """
import os, sys
os.sched_setaffinity(0, {{{cpu}}})
with open("/proc/self/comm", "w") as f:
    f.write("{comm}")
print("ready", flush=True)
sys.stdin.buffer.read(1)
for _ in range({calls}):
    os.getppid()
print("done", flush=True)
sys.stdin.buffer.read(1)
os.getppid()
"""


def spawn(cpu: int, comm: str, calls: int) -> subprocess.Popen[bytes]:
    code = CHILD.format(cpu=cpu, comm=comm, calls=calls)
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert p.stdout is not None
    assert p.stdout.readline() == b"ready\n"
    return p


def go(children: list[subprocess.Popen[bytes]]) -> None:
    for c in children:
        assert c.stdin is not None
        c.stdin.write(b"x")
        c.stdin.flush()


def wait_done(children: list[subprocess.Popen[bytes]]) -> None:
    for c in children:
        assert c.stdout is not None
        assert c.stdout.readline() == b"done\n"


def finish(children: list[subprocess.Popen[bytes]]) -> None:
    """Let each child make its last call and exit."""
    go(children)
    for c in children:
        c.stdin.close()  # type: ignore[union-attr]


def reap(children: list[subprocess.Popen[bytes]]) -> None:
    for c in children:
        c.wait(30)
        c.stdout.close()  # type: ignore[union-attr]
        assert c.returncode == 0


# -- same events ---------------------------------------------------------------------


def open_paths(transport: str) -> list[str]:
    """Fail to open 200 distinct paths from two threads pinned to two CPUs."""
    cpus = two_cpus()
    prefix = f"/nonexistent/ringscope-transport-test/{os.getpid()}/"

    def opener(cpu: int, start: int) -> None:
        os.sched_setaffinity(0, {cpu})  # this thread only
        for i in range(start, 200, 2):
            with contextlib.suppress(FileNotFoundError):
                open(prefix + str(i)).close()

    with Session(["open"], filter=Filter(pid=os.getpid()), transport=transport) as s:
        assert s.transport == transport
        threads = [threading.Thread(target=opener, args=(cpu, k)) for k, cpu in enumerate(cpus)]
        for t in threads:
            t.start()
        items = drain_until(s, lambda: not any(t.is_alive() for t in threads))
    got = [r for r in rows(items) if str(r["path"]).startswith(prefix)]
    assert all(r["ret"] == -2 for r in got)
    return [str(r["path"])[len(prefix) :] for r in got]


def test_both_transports_deliver_the_same_events() -> None:
    expected = sorted(str(i) for i in range(200))
    assert sorted(open_paths("ringbuf")) == expected
    assert sorted(open_paths("perfbuf")) == expected


# -- order ---------------------------------------------------------------------------


def test_perfbuf_output_is_in_timestamp_order() -> None:
    nr = syscall_number("getppid")
    comm = "rs-order-test"
    children = [spawn(cpu, comm, 50_000) for cpu in two_cpus()]
    try:
        with Session(["syscall"], filter=Filter(comm=comm), syscall_id=nr, transport="perfbuf") as s:
            assert isinstance(s.reader, PerfReader)
            # Generous: a producer preempted between stamping and writing its
            # record arrives late (docs/transports.md); this test is about
            # the merge, not about how long this VM's scheduler holds a task.
            s.reader.reorder_ns = 50_000_000
            go(children)
            wait_done(children)
            finish(children)
            items = drain_until(s, lambda: all(c.poll() is not None for c in children))
            stats = s.reader.stats
    finally:
        reap(children)
    ts = np.concatenate([it.column("ts_ns") for it in items if isinstance(it, Chunk)])
    cpus = np.concatenate([it.column("cpu") for it in items if isinstance(it, Chunk)])
    assert not any(isinstance(it, Lost) for it in items)
    assert len(ts) == 2 * 50_001
    assert len(set(cpus.tolist())) == 2, "both CPUs produced"
    assert stats.late == 0
    assert bool((np.diff(ts.astype(np.int64)) >= 0).all()), "perfbuf stream out of ts order"


# -- loss ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_flood_delivered_plus_lost_equals_produced(transport: str) -> None:
    nr = syscall_number("getppid")
    comm = "rs-flood-test"
    calls = 100_000
    children = [spawn(cpu, comm, calls) for cpu in two_cpus()]
    delivered = lost = 0
    try:
        # 64 KiB in all: one ring, or two per-CPU rings of 32 KiB.
        flt = Filter(comm=comm)
        with Session(["syscall"], filter=flt, ring_size=64 << 10, syscall_id=nr, transport=transport) as s:
            go(children)
            wait_done(children)  # the reader sleeps through the flood: the rings overflow
            items = drain_until(s, lambda: True)
            # Room again: each child's last call makes the perf buffer write
            # the PERF_RECORD_LOST it owes before the sample.
            finish(children)
            items += drain_until(s, lambda: all(c.poll() is not None for c in children))
            for item in items:
                if isinstance(item, Lost):
                    assert item.stage == "kernel"
                    lost += item.count
                else:
                    delivered += len(item)
            if isinstance(s.reader, PerfReader):
                # The kernel's own count (PERF_RECORD_LOST, written before
                # each child's last call) agrees with the BPF side's.
                assert s.reader.stats.kernel_lost == lost
    finally:
        reap(children)
    assert lost > 0, "nothing was lost: the test proves nothing"
    assert delivered + lost == 2 * (calls + 1)


# -- fallback ------------------------------------------------------------------------


def test_perfbuf_is_chosen_when_ringbuf_is_reported_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    real = features.probe()
    missing = replace(real, ringbuf=features.Feature("ringbuf", False, "pretend: Linux < 5.8"))
    monkeypatch.setattr(features, "probe", lambda: missing)
    path = f"/nonexistent/ringscope-fallback-test/{os.getpid()}"
    with Session(["open"], filter=Filter(pid=os.getpid())) as s:
        assert s.transport == "perfbuf"
        assert isinstance(s.reader, PerfReader)
        with pytest.raises(FileNotFoundError), open(path):
            pass
        got = [r["path"] for r in rows(drain_until(s, lambda: True))]
    assert path in got


def test_the_last_poll_flushes_the_reorder_window() -> None:
    path = f"/nonexistent/ringscope-flush-test/{os.getpid()}"
    with Session(["open"], filter=Filter(pid=os.getpid()), transport="perfbuf") as s:
        assert isinstance(s.reader, PerfReader)
        s.reader.reorder_ns = 10_000_000_000  # nothing would come out by time alone
        with pytest.raises(FileNotFoundError), open(path):
            pass
        assert not rows(s.poll(0))
        assert s.reader.held() >= 1
        assert path in [r["path"] for r in rows(s.poll(0, flush=True))]
        assert s.reader.held() == 0
