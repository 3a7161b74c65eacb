"""Loss accounting under a flood: a child makes a known number of getppid()
calls into a 64 KiB ring while the reader is slowed on purpose. Every call
is either delivered or counted in a kernel `lost` record, exactly, and the
stream `seq` strictly increases across events and loss records."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from ringscope.events.records import Lost
from ringscope.filters import Filter
from ringscope.session import Session
from ringscope.sources.syscalls import syscall_number

pytestmark = pytest.mark.slow

CALLS = 200_000
RING = 64 << 10
# Held until one byte arrives on stdin, so the filter is in place first.
CHILD = f"import os, sys\nsys.stdin.buffer.read(1)\nfor _ in range({CALLS}): os.getppid()\n"


# Both submit paths: the default adaptive wakeup (a forced wakeup when the
# unread data crosses a quarter of the ring) and a threshold never reached.
@pytest.mark.parametrize("wakeup_bytes", [None, 2 * RING], ids=["adaptive-wakeup", "no-wakeup"])
def test_flood_delivered_plus_lost_equals_produced(wakeup_bytes: int | None) -> None:
    nr = syscall_number("getppid")
    assert nr is not None
    seqs: list[np.ndarray] = []
    delivered = lost = 0
    with subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE) as child:
        assert child.stdin is not None
        flt = Filter(pid=child.pid)
        with Session(["syscall"], filter=flt, ring_size=RING, wakeup_bytes=wakeup_bytes, syscall_id=nr) as s:
            child.stdin.write(b"x")
            child.stdin.close()
            while True:
                done = child.poll() is not None  # before the poll: it then sees every event
                for item in s.poll(0):
                    if isinstance(item, Lost):
                        assert item.stage == "kernel"
                        lost += item.count
                        seqs.append(np.array([item.seq]))
                    else:
                        assert set(item.column("id").tolist()) == {nr}
                        assert set(item.column("pid").tolist()) == {child.pid}
                        delivered += len(item)
                        seqs.append(np.arange(item.seq0, item.seq0 + len(item)))
                if done:
                    break
                time.sleep(0.02)  # the slow reader
            assert (s.delivered, s.lost["kernel"]) == (delivered, lost)
    assert child.returncode == 0
    assert delivered + lost == CALLS
    assert lost > 0, "the reader was not slow enough to lose anything: the test proves nothing"
    assert delivered > 0
    order = np.concatenate(seqs)
    assert bool((np.diff(order) > 0).all()), "seq must strictly increase"


def test_detach_then_final_drain_leaves_nothing_unread() -> None:
    """Whatever a flood produced up to detach() is read by the next poll:
    nothing is left in the ring for close() to free unread."""
    nr = syscall_number("getppid")
    flood = "import os, sys\nsys.stdin.read(1)\nwhile True: os.getppid()\n"
    with subprocess.Popen([sys.executable, "-c", flood], stdin=subprocess.PIPE, text=True) as child:
        assert child.stdin is not None
        try:
            # 64 MiB holds more than 0.3 s of the flood even if this reader
            # is starved on a loaded machine: no loss, whatever the timing.
            with Session(["syscall"], filter=Filter(pid=child.pid), syscall_id=nr, ring_size=1 << 26) as s:
                child.stdin.write("x")
                child.stdin.flush()
                deadline = time.monotonic() + 0.3
                while time.monotonic() < deadline:
                    s.poll()
                s.detach()
                time.sleep(0.05)  # the child keeps calling: nothing may arrive now
                s.poll(0, flush=True)
                assert s.reader is not None and s.reader.pending() == 0
                time.sleep(0.05)
                assert s.poll(0) == [] and s.reader.pending() == 0
                assert s.delivered > 0 and s.lost["kernel"] == 0
        finally:
            child.kill()
