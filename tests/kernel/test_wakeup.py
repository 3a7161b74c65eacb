"""The adaptive wakeup: below wakeup_bytes of unread data the kernel does
not wake the reader (it drains on its own timer); crossing it wakes the
reader at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from ringscope.events.records import Lost
from ringscope.filters import Filter
from ringscope.session import Session
from ringscope.sources.syscalls import syscall_number

ME = os.getpid()
WAKEUP = 4096
RECORD = 56  # struct rs_syscall (48 bytes) + the ring's 8-byte header


def _sleep_then_call(n: int) -> threading.Thread:
    def run() -> None:
        time.sleep(0.2)
        for _ in range(n):
            os.getppid()

    t = threading.Thread(target=run)
    t.start()
    return t


def _wait_time(calls: int, timeout: float) -> tuple[float, int]:
    nr = syscall_number("getppid")
    with Session(
        ["syscall"], filter=Filter(pid=ME), ring_size=1 << 16, wakeup_bytes=WAKEUP, syscall_id=nr
    ) as s:
        assert s.reader is not None
        t = _sleep_then_call(calls)
        t0 = time.monotonic()
        s.reader.wait(timeout)
        elapsed = time.monotonic() - t0
        t.join()
        return elapsed, s.reader.pending()


def test_crossing_the_threshold_wakes_the_reader() -> None:
    elapsed, pending = _wait_time(3 * WAKEUP // RECORD, timeout=5.0)
    assert pending >= WAKEUP
    assert elapsed < 2.0, f"not woken: slept {elapsed:.2f}s"


def test_below_the_threshold_no_wakeup() -> None:
    elapsed, pending = _wait_time(10, timeout=1.0)
    assert 0 < pending < WAKEUP
    assert elapsed >= 0.9, f"woken below the threshold after {elapsed:.2f}s"


def test_reader_sleeps_between_drains_under_a_flood() -> None:
    """Below the threshold the reader drains on its timer, in big batches,
    instead of spinning on a ring fd that is readable whenever data waits.
    The flood is another process: a thread here would pace us via the GIL."""
    nr = syscall_number("getppid")
    interval, window = 0.005, 0.5
    flood = "import os, sys\nsys.stdin.read(1)\nwhile True: os.getppid()\n"
    with subprocess.Popen([sys.executable, "-c", flood], stdin=subprocess.PIPE, text=True) as child:
        assert child.stdin is not None
        try:
            with Session(
                ["syscall"], filter=Filter(pid=child.pid), syscall_id=nr, drain_interval=interval
            ) as s:
                child.stdin.write("x")
                child.stdin.flush()
                polls = events = 0
                end = time.monotonic() + window
                while time.monotonic() < end:
                    events += sum(len(i) for i in s.poll() if not isinstance(i, Lost))
                    polls += 1
        finally:
            child.kill()
    assert events > 1000, "the flood did not run"
    assert polls <= 2 * window / interval + 20, f"{polls} polls in {window}s: the reader spins"
    assert s.lost["kernel"] == 0
