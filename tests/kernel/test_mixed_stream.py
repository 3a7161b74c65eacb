"""Two event types interleaved in the ring: the `open` event (written at
openat exit) and the tracepoint syscalls:sys_enter_openat (at entry), both
with the path. Every openat of ours makes one of each, enter first, so the
stream must alternate enter, open, enter, open ... with exact counts; and a
burst of them is read whole by `trace -o FILE` with default settings,
delivered + lost == produced exactly."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ringscope.events.mixed import Mixed
from ringscope.events.records import Lost
from ringscope.filters import Filter
from ringscope.session import Session
from tests.conftest import need

ENTER = "tracepoint:syscalls:sys_enter_openat"
EVENTS = ["open", ENTER]
RINGSCOPE = [sys.executable, "-m", "ringscope"]
SUMMARY = re.compile(r"ringscope: (\d+) events, lost (\d+) in the kernel, (\d+) in the daemon")


def _open_missing(path: str, n: int) -> None:
    for _ in range(n):
        with contextlib.suppress(FileNotFoundError):
            os.close(os.open(path, os.O_RDONLY))


def test_two_types_from_our_pid_exact_counts_and_order(tmp_path: Path) -> None:
    path = str(tmp_path / "missing-mixed")
    calls = 2000
    rows = []
    with Session(EVENTS, filter=Filter(pid=os.getpid())) as s:
        _open_missing(path, calls)
        s.detach()
        for item in s.poll(0, flush=True, mixed=True):
            assert not isinstance(item, Lost), f"lost events: {item.row()}"
            assert isinstance(item, Mixed)
            seqs = np.sort(np.concatenate([p.seq_column() for p in item.parts]))
            assert seqs.tolist() == list(range(item.seq0, item.seq0 + len(item)))
            rows += [r for c in item.chunks() for r in c.rows()]
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    ours = [r for r in rows if r.get("path") == path or r.get("filename") == path]
    assert [r["type"] for r in ours] == [ENTER, "open"] * calls
    assert all(r["ret"] == -2 for r in ours if r["type"] == "open")


def _held_child(path: str, calls: int) -> subprocess.Popen[bytes]:
    """A Python that opens `path` `calls` times once it reads a byte, then
    exits at once (no interpreter teardown, so no other openat after the loop)."""
    code = (
        "import os, sys\nsys.stdin.buffer.read(1)\n"
        f"for _ in range({calls}):\n"
        f"    try: os.open({path!r}, 0)\n"
        "    except OSError: pass\n"
        "os._exit(0)\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)


def _attached(pid: int) -> bool:
    out = subprocess.run(["bpftool", "-j", "perf", "list"], capture_output=True, text=True, timeout=10)
    try:
        rows = json.loads(out.stdout or "[]")
    except ValueError:
        return False
    return any(r.get("pid") == pid and r.get("tracepoint") == "sys_enter_openat" for r in rows)


def _burst(tmp_path: Path, calls: int) -> tuple[int, int, dict[str, int]]:
    """One `trace -e open,ENTER -p CHILD --format json -o FILE` run over a
    burst of `calls` openat: (events shown, lost in the kernel, lines per type)."""
    path = str(tmp_path / "missing-burst")
    out = tmp_path / "burst.ndjson"
    child = _held_child(path, calls)
    argv = [*RINGSCOPE, "trace", "-e", ",".join(EVENTS), "-p", str(child.pid), "--format", "json",
            "-o", str(out)]  # fmt: skip
    tracer = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not _attached(tracer.pid):
            assert tracer.poll() is None and time.monotonic() < deadline, "trace did not attach"
            time.sleep(0.05)
        time.sleep(0.3)  # the tracepoint is attached; the other programs are, within milliseconds
        assert child.stdin is not None
        child.stdin.write(b"x")
        child.stdin.close()
        assert child.wait(timeout=120) == 0
        time.sleep(1.0)  # let trace drain the ring
        tracer.send_signal(2)
        _, err = tracer.communicate(timeout=120)
    finally:
        for p in (child, tracer):
            if p.poll() is None:
                p.kill()
            p.communicate()
    m = SUMMARY.search(err)
    assert m is not None, err
    shown, kernel, daemon = (int(g) for g in m.groups())
    assert daemon == 0
    per_type: dict[str, int] = {}
    seq = -1
    with out.open("rb") as f:
        for line in f:
            row = json.loads(line)
            assert row["seq"] > seq
            seq = row["seq"]
            if row["type"] != "lost":
                assert row.get("path", row.get("filename")) == path
                per_type[row["type"]] = per_type.get(row["type"], 0) + 1
    assert sum(per_type.values()) == shown
    return shown, kernel, per_type


def test_a_burst_of_two_interleaved_types_reaches_the_file(tmp_path: Path) -> None:
    """150,000 openat = 300,000 events. Accounting is exact on every run.
    The delivery floor (99 %, the single-type figure) is checked with one
    retry: this 2-CPU machine is shared with other test runs, and a burst
    that meets a busy neighbour loses events to it without anything being
    wrong; the interleaved path before the gathered drain delivered 11-30 %,
    so two misses in a row mean a real regression, not noise."""
    need(shutil.which("bpftool") is not None, "needs bpftool to see when trace has attached")
    calls = 150_000
    fractions = []
    for _attempt in range(2):
        shown, kernel, per_type = _burst(tmp_path, calls)
        assert shown + kernel == 2 * calls, (shown, kernel)
        if kernel == 0:
            assert per_type == {"open": calls, ENTER: calls}
        fractions.append(shown / (2 * calls))
        if fractions[-1] >= 0.99:
            break
    assert max(fractions) >= 0.99, f"delivered {fractions}"
