"""Generic tracepoint events vs the dedicated `open` source, on one flood.

A C program makes N failing openat(2) calls; we time them untraced, under
the dedicated `open` source (file.bpf.c: enter + exit programs, one event
per call, path read at exit), and under the generic tracepoint program
(tracepoint.bpf.c) on syscalls:sys_enter_openat (one event, the filename
read through the user pointer) and on sys_enter + sys_exit (two events per
call, the same information as `open`). The Python reader drains the ring
while the flood runs; delivered counts check that nothing was lost.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.report import Figure, Report

SECTION = "dynamic"
N = 300_000
REPEAT = 3
HERE = Path(__file__).parent
SRC = HERE / "c" / "open_flood.c"
BUILD = HERE / "build"


@dataclass
class Result:
    calls: int
    ns: int
    delivered: int = 0
    lost: int = 0

    @property
    def ns_per_call(self) -> float:
        return self.ns / self.calls


def build() -> Path:
    BUILD.mkdir(exist_ok=True)
    exe = BUILD / "open_flood"
    if not exe.exists() or exe.stat().st_mtime < SRC.stat().st_mtime:
        tmp = exe.with_name(f".open_flood.{os.getpid()}")
        subprocess.run(
            [os.environ.get("CC", "gcc"), "-O2", "-Wall", "-Werror", "-o", str(tmp), str(SRC)], check=True
        )
        tmp.replace(exe)
    return exe


def _finish(proc: subprocess.Popen[bytes]) -> dict[str, int]:
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    if proc.wait(timeout=600):
        raise RuntimeError(f"flood exited {proc.returncode}")
    return dict(json.loads(out))


def untraced(exe: Path) -> Result:
    with subprocess.Popen([str(exe), str(N)], stdout=subprocess.PIPE) as p:
        r = _finish(p)
    return Result(r["calls"], r["ns"])


def traced(exe: Path, events: list[str]) -> Result:
    from ringscope.events.records import Chunk, Lost
    from ringscope.filters import Filter
    from ringscope.session import Session

    with subprocess.Popen([str(exe), str(N), "--hold"], stdin=subprocess.PIPE, stdout=subprocess.PIPE) as p:
        assert p.stdin is not None
        got = lost = 0
        with Session(events, filter=Filter(pid=p.pid)) as s:
            p.stdin.write(b"x")
            p.stdin.close()
            while p.poll() is None:
                for item in s.poll(0.002):
                    got += len(item) if isinstance(item, Chunk) else 0
                    lost += item.count if isinstance(item, Lost) else 0
            time.sleep(0.01)
            for item in s.poll(0):
                got += len(item) if isinstance(item, Chunk) else 0
                lost += item.count if isinstance(item, Lost) else 0
        r = _finish(p)
    return Result(r["calls"], r["ns"], got, lost)


def _best(results: list[Result]) -> Result:
    return min(results, key=lambda r: r.ns_per_call)


def run(report: Report) -> None:
    exe = build()
    base = _best([untraced(exe) for _ in range(REPEAT)])
    scenarios = {
        "dedicated open source (1 event/call)": ["open"],
        "generic tp sys_enter_openat (1 event/call)": ["syscalls:sys_enter_openat"],
        "generic tp enter+exit (2 events/call)": ["syscalls:sys_enter_openat", "syscalls:sys_exit_openat"],
    }
    res = {name: _best([traced(exe, ev) for _ in range(REPEAT)]) for name, ev in scenarios.items()}
    report.add(Figure(SECTION, "untraced openat", base.ns_per_call, "ns/call", higher_is_better=False))
    dedicated = res["dedicated open source (1 event/call)"]
    for name, r in res.items():
        over = r.ns_per_call - base.ns_per_call
        notes = f"delivered {r.delivered} of {r.calls * (2 if '2 events' in name else 1)}, lost {r.lost}"
        report.add(Figure(SECTION, name, r.ns_per_call, "ns/call", "untraced", base.ns_per_call,
                          higher_is_better=False, notes=notes))  # fmt: skip
        report.add(Figure(SECTION, f"{name}: added cost", over, "ns/call", "dedicated open added cost",
                          dedicated.ns_per_call - base.ns_per_call, higher_is_better=False))  # fmt: skip
