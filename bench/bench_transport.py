"""Transport benchmark: the BPF ring buffer against the perf buffer, the
same BPF programs (rs_use_perfbuf picks the path at load), the same
workloads, in one run. docs/transports.md explains and records the figures.

Workload: bench/c/flood.c, N raw getppid() calls from a process pinned to
one CPU, traced by the `syscall` source (one 72-byte rs_syscall record per
call) with the in-kernel filter set to the flood's pid. The reader is a
Session in this process, pinned to the other CPU.

  cost        ns per traced call while the reader keeps up (16 MiB in all),
              and the untraced syscall as the baseline;
  throughput  delivered events/s during that run (must be lossless) and the
              reader alone emptying a full buffer (its ceiling);
  memory      kernel memory each transport pins for the same 16 MiB setting;
  order       two floods at once, one per CPU: records that reach the reader
              out of ts order (perfbuf before its merge; ringbuf as read),
              and after the merge;
  burst       a stalled reader and a burst into 1 MiB in all, from one CPU
              (skewed) and from both (balanced): lost per transport.

Every run checks produced == delivered + lost, exactly.
RINGSCOPE_BENCH_EVENTS (default 1000000) and RINGSCOPE_BENCH_REPEAT (3)
shorten a run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.bench_reader import Flood
from bench.report import Figure, Report

SECTION = "transport"
N = int(os.environ.get("RINGSCOPE_BENCH_EVENTS", 1_000_000))
REPEAT = int(os.environ.get("RINGSCOPE_BENCH_REPEAT", 3))
SIZE = 1 << 24  # 16 MiB in all, the Session default
BURST_SIZE = 1 << 20  # 1 MiB in all for the burst
BURST = 40_000  # calls per flooding CPU in a burst
PRODUCER_CPU, READER_CPU = 0, 1
TRANSPORTS = ("ringbuf", "perfbuf")
COMM = "tr-flood"

HERE = Path(__file__).parent
BUILD = HERE / "build"


def flood_exe() -> Path:
    # Its own name: the comm filter of the two-CPU runs must not catch the
    # floods of other benchmarks running on the same machine.
    src, exe = HERE / "c" / "flood.c", BUILD / COMM
    BUILD.mkdir(exist_ok=True)
    if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
        cc = os.environ.get("CC", "gcc")
        subprocess.run([cc, "-O2", "-Wall", "-Werror", "-o", str(exe), str(src)], check=True)
    return exe


@dataclass
class Run:
    transport: str
    calls: int = 0
    ns: int = 0  # producers' elapsed time (the longest)
    delivered: int = 0
    lost: int = 0
    span_ns: int = 0
    unordered_in: int = 0  # out of ts order as read (before any merge)
    unordered_out: int = 0  # out of ts order as handed on
    perf_lost: int = 0  # perfbuf: PERF_RECORD_LOST total (cross-check)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ns_per_call(self) -> float:
        return self.ns / self.calls

    @property
    def rate(self) -> float:
        return self.delivered / self.span_ns * 1e9 if self.span_ns else 0.0

    def check(self) -> None:
        if self.delivered + self.lost != self.calls:
            raise AssertionError(f"{self.transport}: produced {self.calls} != {self.delivered} + {self.lost}")


def _getppid() -> int:
    from ringscope.sources.syscalls import syscall_number

    nr = syscall_number("getppid")
    assert nr is not None
    return nr


def _unordered(ts: np.ndarray, prior: int) -> tuple[int, int]:
    """Records with a ts below one already seen, and the new running max."""
    if not len(ts):
        return 0, prior
    run_max = np.maximum.accumulate(np.concatenate([np.array([prior], np.uint64), ts]))
    return int(np.count_nonzero(ts < run_max[:-1])), int(run_max[-1])


def traced(
    transport: str, cpus: list[int], n: int, size: int, *, stall: bool = False, wakeup: int | None = None
) -> Run:
    """Floods on `cpus` (n calls each) traced through `transport`. With
    stall=True the reader sleeps until the floods end, then drains."""
    from ringscope.events.records import Chunk, Lost
    from ringscope.filters import Filter
    from ringscope.session import Session
    from ringscope.transport.perfbuf import PerfReader

    floods = [Flood(flood_exe(), n=n, cpu=cpu) for cpu in cpus]
    r = Run(transport, calls=n * len(cpus))
    affinity = os.sched_getaffinity(0)
    t_last, seen_max = 0, 0
    flt = Filter(pid=floods[0].pid) if len(floods) == 1 else Filter(comm=COMM)
    try:
        with Session(
            ["syscall"], filter=flt, ring_size=size, syscall_id=_getppid(), transport=transport,
            wakeup_bytes=wakeup,
        ) as s:  # fmt: skip
            os.sched_setaffinity(0, {READER_CPU})
            t0 = time.monotonic_ns()
            for f in floods:
                f.release()
            if stall:
                for f in floods:
                    f.proc.wait()
            while True:
                done = all(f.done() for f in floods)
                got = 0
                for item in s.poll():
                    if isinstance(item, Lost):
                        r.lost += item.count
                    elif isinstance(item, Chunk):
                        got += len(item)
                        bad, seen_max = _unordered(item.column("ts_ns"), seen_max)
                        r.unordered_out += bad
                if got:
                    r.delivered += got
                    t_last = time.monotonic_ns()
                assert s.reader is not None
                held = s.reader.held() if isinstance(s.reader, PerfReader) else 0
                if done and not s.reader.pending() and not held:
                    break
            if isinstance(s.reader, PerfReader):
                r.unordered_in = s.reader.stats.unordered_in
                r.perf_lost = s.reader.stats.kernel_lost
                r.extra["late"] = s.reader.stats.late
            else:
                r.unordered_in = r.unordered_out  # the ring order is the order read
            r.extra["memory"] = kernel_memory(s)
    finally:
        os.sched_setaffinity(0, affinity)
        for f in floods:
            if not f.done():
                f.proc.kill()
    results = [f.finish() for f in floods]
    r.ns = max(x["ns"] for x in results)
    r.span_ns = max(t_last, max(x["t1_ns"] for x in results)) - min(x["t0_ns"] for x in results)
    del t0
    return r


def _memlock(fd: int) -> int:
    for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines():
        if line.startswith("memlock:"):
            return int(line.split()[1])
    return 0


def kernel_memory(s: Any) -> dict[str, int]:
    """Bytes the kernel holds for the transport: the ring map, or the perf
    rings (data + the control page, per CPU) plus the scratch slots."""
    from ringscope.transport.perfbuf import PerfReader

    out = {}
    if isinstance(s.reader, PerfReader):
        page = os.sysconf("SC_PAGE_SIZE")
        out["buffers"] = s.reader.size + page * len(s.reader.cpus)
    else:
        out["buffers"] = _memlock(s._maps["rs_ring"].fd)
    # The perf path's scratch slots (one slot, unused, on the ring buffer path).
    out["scratch"] = sum(_memlock(o.maps["rs_heap"].fd) for o in s.objects.values())
    return out


def untraced(n: int) -> float:
    f = Flood(flood_exe(), hold=False, n=n)
    r = f.finish()
    return r["ns"] / r["calls"]


def drain_ceiling(transport: str, n: int) -> float:
    """Events/s of the reader alone emptying a buffer that holds all n."""
    from ringscope.events.records import Chunk, Lost
    from ringscope.filters import Filter
    from ringscope.session import Session

    # Room for all n on the producer's CPU: perfbuf gives each CPU 1/ncpus.
    size = 1 << max(24, (n * 96 * len(os.sched_getaffinity(0))).bit_length())
    f = Flood(flood_exe(), n=n)
    got = lost = 0
    affinity = os.sched_getaffinity(0)
    try:
        with Session(
            ["syscall"], filter=Filter(pid=f.pid), ring_size=size, syscall_id=_getppid(),
            transport=transport, wakeup_bytes=size,
        ) as s:  # fmt: skip
            os.sched_setaffinity(0, {READER_CPU})
            f.release()
            f.proc.wait()
            time.sleep(0.01)  # past the perf merge's window: nothing is held back
            t0 = time.monotonic_ns()
            while got + lost < n:
                for item in s.poll(0):
                    if isinstance(item, Lost):
                        lost += item.count
                    elif isinstance(item, Chunk):
                        got += len(item)
            t = time.monotonic_ns() - t0
    finally:
        os.sched_setaffinity(0, affinity)
    f.finish()
    if lost:
        raise AssertionError(f"{transport}: {lost} lost in a buffer sized to hold everything")
    return got / t * 1e9


PACED = "import os, sys, time\nsys.stdin.buffer.read(1)\nfor _ in range({n}):\n    os.getppid()\n    time.sleep({gap})\n"


def latency(transport: str, n: int = 2000, gap: float = 0.0005) -> tuple[float, float]:
    """p50 and p99 of kernel timestamp -> handed on by poll(), in ms, for a
    paced producer (~1-2k events/s): the reader's timer, plus for perfbuf
    the reorder window."""
    import sys

    from ringscope.events.records import Chunk
    from ringscope.filters import Filter
    from ringscope.session import Session

    code = PACED.format(n=n, gap=gap)
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    lat: list[np.ndarray] = []
    got = 0
    try:
        with Session(
            ["syscall"], filter=Filter(pid=child.pid), syscall_id=_getppid(), transport=transport
        ) as s:
            assert child.stdin is not None
            child.stdin.write(b"x")
            child.stdin.close()
            while got < n:
                for item in s.poll():
                    if isinstance(item, Chunk):
                        now = time.monotonic_ns()
                        lat.append(now - item.column("ts_ns").astype(np.int64))
                        got += len(item)
    finally:
        child.wait(60)
    ms = np.concatenate(lat) / 1e6
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def _med(values: list[float]) -> float:
    return float(statistics.median(values))


def run(report: Report) -> None:
    first = len(report.figures)
    _run(report)
    # The shared results file is rewritten by every bench run: keep ours,
    # notes included, where docs/transports.md can be refreshed from it.
    mine = report.figures[first:]
    for f in mine:
        if f.notes:
            print(f"  note: {f.name}: {f.notes}")
    BUILD.mkdir(exist_ok=True)
    doc = [
        {"name": f.name, "value": f.value, "unit": f.unit, "baseline": f.baseline, "notes": f.notes}
        for f in mine
    ]
    (BUILD / "transport.json").write_text(json.dumps(doc, indent=1) + "\n")


def _run(report: Report) -> None:
    if os.geteuid() != 0:
        print("  skipped: the transport benchmark needs root")
        return
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        print("  skipped: needs two CPUs")
        return
    both = cpus[:2]
    add = report.add

    # -- cost and lossless throughput, one flood, reader keeping up --------------
    base: list[float] = []
    cost: dict[str, list[Run]] = {t: [] for t in TRANSPORTS}
    for i in range(REPEAT):
        base.append(untraced(N))
        for t in TRANSPORTS:
            r = traced(t, [PRODUCER_CPU], N, SIZE)
            r.check()
            cost[t].append(r)
        print(f"  round {i + 1}/{REPEAT}: untraced {base[-1]:.0f} ns, "
              + ", ".join(f"{t} {cost[t][-1].ns_per_call:.0f} ns/call {cost[t][-1].lost} lost"
                          for t in TRANSPORTS), flush=True)  # fmt: skip
    ns = {t: _med([r.ns_per_call for r in cost[t]]) for t in TRANSPORTS}
    rate = {t: _med([r.rate for r in cost[t]]) for t in TRANSPORTS}
    lost = {t: sum(r.lost for r in cost[t]) for t in TRANSPORTS}
    b = _med(base)
    for t in TRANSPORTS:
        add(Figure(SECTION, f"{t}: ns per traced call", ns[t], "ns", "untraced", b, higher_is_better=False,
                   notes=f"reader keeping up, {SIZE >> 20} MiB in all, lost {lost[t]}"))  # fmt: skip
    add(Figure(SECTION, "perfbuf vs ringbuf: ns per traced call", ns["perfbuf"], "ns", "ringbuf",
               ns["ringbuf"], higher_is_better=False))  # fmt: skip
    for t in TRANSPORTS:
        add(Figure(SECTION, f"{t}: delivered, lossless run", rate[t], "events/s",
                   notes=f"lost {lost[t]} over {REPEAT} runs"))  # fmt: skip
    # The kernel side alone: reader stalled, buffer big enough, no wakeups.
    quiet: dict[str, list[float]] = {t: [] for t in TRANSPORTS}
    quiet_n, quiet_size = 200_000, 1 << 26
    for _ in range(2 * REPEAT):
        for t in TRANSPORTS:
            r = traced(t, [PRODUCER_CPU], quiet_n, quiet_size, stall=True, wakeup=quiet_size)
            r.check()
            assert r.lost == 0
            quiet[t].append(r.ns_per_call)
    qn = {t: _med(quiet[t]) for t in TRANSPORTS}
    for t in TRANSPORTS:
        add(Figure(SECTION, f"{t}: ns per traced call, reader stalled", qn[t], "ns", "untraced", b,
                   higher_is_better=False, notes="kernel side only: no drain, no wakeup, no drop"))  # fmt: skip
    add(Figure(SECTION, "perfbuf vs ringbuf: kernel side only", qn["perfbuf"], "ns", "ringbuf", qn["ringbuf"],
               higher_is_better=False))  # fmt: skip
    ceiling = {t: _med([drain_ceiling(t, N) for _ in range(REPEAT)]) for t in TRANSPORTS}
    add(Figure(SECTION, "ringbuf: reader draining a full buffer", ceiling["ringbuf"], "events/s"))
    add(Figure(SECTION, "perfbuf: reader draining + merging a full buffer", ceiling["perfbuf"], "events/s",
               "ringbuf", ceiling["ringbuf"]))  # fmt: skip

    # -- latency at a modest rate: what the reorder window costs ---------------------
    for t in TRANSPORTS:
        p50, p99 = latency(t)
        add(Figure(SECTION, f"{t}: latency ts -> poll(), ~1.5k events/s, p99", p99, "ms",
                   higher_is_better=False, notes=f"p50 {p50:.2f} ms"))  # fmt: skip

    # -- memory at the same setting ---------------------------------------------------
    for t in TRANSPORTS:
        mem = cost[t][-1].extra["memory"]
        kib = (mem["buffers"] + mem["scratch"]) / 1024
        note = f"buffers {mem['buffers'] // 1024} KiB + scratch {mem['scratch'] // 1024} KiB"
        add(Figure(SECTION, f"{t}: kernel memory, --ring-size 16M", kib, "KiB", higher_is_better=False,
                   notes=note))  # fmt: skip

    # -- order, two floods at once -----------------------------------------------------
    order = {t: traced(t, both, N // 2, SIZE) for t in TRANSPORTS}
    for t in TRANSPORTS:
        r = order[t]
        r.check()
        pct = 100 * r.unordered_in / max(1, r.delivered)
        add(Figure(SECTION, f"{t}: out of ts order as read, 2 CPUs", pct, "%", higher_is_better=False,
                   notes=f"{r.unordered_in} of {r.delivered}"))  # fmt: skip
    r = order["perfbuf"]
    pct = 100 * r.unordered_out / max(1, r.delivered)
    note = f"{r.unordered_out} of {r.delivered}; late {r.extra.get('late')}; 1 ms window"
    add(Figure(SECTION, "perfbuf: out of ts order after the merge", pct, "%", higher_is_better=False,
               notes=note))  # fmt: skip

    # -- loss under a burst, equal memory, stalled reader ---------------------------
    for label, where in (("skewed (1 CPU)", [PRODUCER_CPU]), ("balanced (2 CPUs)", both)):
        burst = {}
        for t in TRANSPORTS:
            r = traced(t, where, BURST, BURST_SIZE, stall=True)
            r.check()
            burst[t] = r
        for t in TRANSPORTS:
            r = burst[t]
            name = f"{t}: burst {label}, {BURST_SIZE >> 20} MiB, delivered"
            note = f"lost {r.lost} of {r.calls}; producer {r.ns_per_call:.0f} ns/call"
            if t == "perfbuf":  # written only before a later sample on that CPU
                note += f"; PERF_RECORD_LOST seen {r.perf_lost}"
            add(Figure(SECTION, name, r.delivered, "events", notes=note))
