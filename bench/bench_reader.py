"""Reader benchmark: a getppid() flood traced by ringscope's Python reader
against a native C libbpf reader over the same BPF object, in one run.

The producer is bench/c/flood.c, a separate process pinned to CPU 0; every
reader sits on CPU 1. The flood starts held (it waits for a byte on stdin)
so that the in-kernel filter can be set to its pid first; then it makes N
raw getppid() calls and prints its own elapsed time.

Scenarios (each repeated, interleaved; the best run of each is reported,
as timeit does: on a shared VM interference only ever adds time, and the
per-round lines show the spread):
  untraced     the flood with nothing attached: the cost of the syscall.
  no reader    syscalls.bpf.o attached by the C reader in --no-drain mode:
               reserve + fill + submit and nothing else. The ring is big
               enough to hold every event (256 MiB for 2M) and the wakeup
               threshold is above it, so nothing drops and no wakeup fires;
               the ring is drained once, after the flood, to count. This is
               the baseline of the producer-cost target.
  drop path    no reader either, with the default 16 MiB ring and wakeup
               threshold (a quarter of the ring): whatever the wakeup policy
               of common.bpf.h costs past the threshold, then, once the ring
               is full, every reserve fails and is counted. It shows what a
               stalled reader costs the producer, and its one drain times how
               fast each reader empties a full ring (C, and ringscope in
               "ringscope drop path", which also cross-checks that both
               loaders configure the program alike: same ns per call).
  C reader     bench/c/reader.c: libbpf ring_buffer__consume on every wakeup
               and on a 0.5 ms timer, 16 MiB ring. Its callback only counts.
  ringscope    Session(["syscall"]).poll() in this process, counting
               len(chunk) and Lost.count: no per-event Python work.
  ringscope paced  the same, sleeping 0.5 ms after each poll: poll()
               returns at once while anything is pending, so under a flood
               the plain loop spins; this shows what pacing would change.
  bpftrace     (once, if installed) printf of the same events: one
               raw_syscalls:sys_exit probe with the same pid/id filter.

Producer cost is ns per traced call (the flood's elapsed / N). Delivered
rate is events over [flood start, last drain that found data]. While both
readers keep up, that rate is bounded by the producer, so the rate ratio
says "keeps up" and the drain-a-full-ring figures say by how much. Every
run checks produced == delivered + lost, exactly.

RINGSCOPE_BENCH_EVENTS (default 2000000), RINGSCOPE_BENCH_REPEAT (5) and
RINGSCOPE_BENCH_BPFTRACE=0 shorten a run.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.report import Figure, Report

SECTION = "reader"
N = int(os.environ.get("RINGSCOPE_BENCH_EVENTS", 2_000_000))
REPEAT = int(os.environ.get("RINGSCOPE_BENCH_REPEAT", 5))
RING = 1 << 24  # 16 MiB, the Session default
WAKEUP = RING // 4  # the Session default for that ring
BIG_RING = 1 << 28  # holds 2M x 88-byte records without a drop
WITH_BPFTRACE = os.environ.get("RINGSCOPE_BENCH_BPFTRACE", "1") != "0"
NEVER = 1 << 62  # a wakeup threshold no ring reaches
INTERVAL_US = 500
PRODUCER_CPU, READER_CPU = 0, 1

HERE = Path(__file__).parent
SRC = HERE / "c"
BUILD = HERE / "build"
INCLUDE = HERE.parent / "bpf" / "include"


@dataclass
class Result:
    calls: int
    ns: int  # the producer's elapsed time
    delivered: int = 0
    lost: int = 0
    span_ns: int = 0  # flood start -> last drain that found data
    drain_ns: int = 0  # no-reader runs: one reader emptying the full ring
    cpu_ns: int = 0  # the reader's CPU time (user + system) from release to the end
    drains: int = 0  # times the reader woke up and drained
    misses: int = 0  # program runs the kernel skipped (another BPF program busy on that CPU)

    @property
    def ns_per_call(self) -> float:
        return self.ns / self.calls

    @property
    def rate(self) -> float:
        return self.delivered / self.span_ns * 1e9 if self.span_ns else 0.0

    @property
    def drain_rate(self) -> float:
        return self.delivered / self.drain_ns * 1e9 if self.drain_ns else 0.0

    def mismatch(self, name: str) -> str | None:
        if self.delivered + self.lost == self.calls:
            return None
        return (f"{name}: produced {self.calls} != delivered {self.delivered} + lost {self.lost}"
                f" (program runs skipped by the kernel: {self.misses})")  # fmt: skip


# -- build -------------------------------------------------------------------


def build() -> tuple[Path, Path]:
    """Compile flood and reader into bench/build when their source is newer."""
    cc = os.environ.get("CC", "gcc")
    BUILD.mkdir(exist_ok=True)
    out = []
    for name, extra in (("flood", []), ("reader", [f"-I{INCLUDE}", "-lbpf"])):
        src, exe = SRC / f"{name}.c", BUILD / name
        deps = [src, INCLUDE / "events.h"]
        if not exe.exists() or exe.stat().st_mtime < max(d.stat().st_mtime for d in deps):
            # Build aside and rename: another bench section may be running it.
            tmp = exe.with_name(f".{name}.{os.getpid()}")
            cmd = [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(tmp), str(src), *extra]
            subprocess.run(cmd, check=True)
            tmp.replace(exe)
        out.append(exe)
    return out[0], out[1]


# -- processes ---------------------------------------------------------------


class Flood:
    """The held producer process: start, release(), finish()."""

    def __init__(self, exe: Path, hold: bool = True, *, n: int = N, cpu: int = PRODUCER_CPU) -> None:
        args = [str(exe), str(n), str(cpu), *(["--hold"] if hold else [])]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.pid = self.proc.pid

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"x")
        self.proc.stdin.close()

    def done(self) -> bool:
        return self.proc.poll() is not None

    def finish(self) -> dict[str, int]:
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        self.proc.stdout.close()
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        if self.proc.wait(timeout=600):
            raise RuntimeError(f"flood exited {self.proc.returncode}")
        return dict(json.loads(out))


def untraced(flood_exe: Path) -> Result:
    f = Flood(flood_exe, hold=False)
    r = f.finish()
    return Result(r["calls"], r["ns"])


def c_reader(flood_exe: Path, reader_exe: Path, ring: int, wakeup: int, drain: bool) -> Result:
    obj = _object()
    flood = Flood(flood_exe)
    args = [str(reader_exe), str(obj), str(ring), str(wakeup), str(_getppid()), str(flood.pid),
            str(READER_CPU), str(INTERVAL_US), *([] if drain else ["--no-drain"])]  # fmt: skip
    rd = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert rd.stdout is not None and rd.stdin is not None
        if rd.stdout.readline().strip() != "ready":
            raise RuntimeError(f"C reader failed to start (exit {rd.wait()})")
        flood.release()
        fr = flood.finish()
        rd.stdin.close()  # EOF: last drain, print the counts
        rr = json.loads(rd.stdout.read())
        if rd.wait():
            raise RuntimeError(f"C reader exited {rd.returncode}")
    finally:
        if rd.poll() is None:
            rd.kill()
            rd.wait()
    span = max(rr["t_last_ns"], fr["t1_ns"]) - fr["t0_ns"] if drain else 0
    counts = rr["delivered"], rr["lost"], span, rr["drain_ns"], rr["cpu_ns"], rr["wakeups"], rr["misses"]
    return Result(fr["calls"], fr["ns"], *counts)


def ringscope_reader(flood_exe: Path, ring: int, wakeup: int, drain: bool, pace: bool = False) -> Result:
    from ringscope.events.records import Item, Lost
    from ringscope.filters import Filter
    from ringscope.session import Session

    def count(items: list[Item]) -> tuple[int, int]:
        got = lost = 0
        for item in items:
            if isinstance(item, Lost):
                lost += item.count
            else:
                got += len(item)
        return got, lost

    flood = Flood(flood_exe)
    affinity = os.sched_getaffinity(0)
    delivered = lost = drains = 0
    t_last = drain_ns = 0
    try:
        session = Session(
            ["syscall"],
            filter=Filter(pid=flood.pid),
            ring_size=ring,
            wakeup_bytes=wakeup,
            syscall_id=_getppid(),
            drain_interval=INTERVAL_US / 1e6,
        )
        with session as s:
            os.sched_setaffinity(0, {READER_CPU})
            cpu0 = _cpu_ns()
            flood.release()
            if not drain:  # fill the ring, then time one reader emptying it
                flood.proc.wait()
                t0 = time.monotonic_ns()
                while delivered + lost < N and (got := count(s.poll(0))) != (0, 0):
                    delivered, lost = delivered + got[0], lost + got[1]
                drain_ns = time.monotonic_ns() - t0
            while drain:
                # Exited before this poll: the poll sees every event it made.
                done = flood.done()
                got, dropped = count(s.poll())
                drains += 1
                lost += dropped
                if got:
                    delivered += got
                    t_last = time.monotonic_ns()
                if done:
                    break
                if pace:
                    time.sleep(INTERVAL_US / 1e6)
            cpu = _cpu_ns() - cpu0
            misses = _prog_misses()
    finally:
        os.sched_setaffinity(0, affinity)
        if not flood.done():
            flood.proc.kill()
    fr = flood.finish()
    span = max(t_last, fr["t1_ns"]) - fr["t0_ns"] if drain else 0
    return Result(fr["calls"], fr["ns"], delivered, lost, span, drain_ns, cpu, drains, misses)


# The same flood through bpftrace's printf (perf-buffer output, formatted in
# user space): one tracepoint, the same pid and syscall filter.
BPFTRACE_PROG = (
    'tracepoint:raw_syscalls:sys_exit /pid == %d && args->id == %d/ { printf("%%d %%d\\n", tid, args->ret); }'
)


def bpftrace(flood_exe: Path, exe: str) -> Result:
    out, err = BUILD / "bpftrace.out", BUILD / "bpftrace.err"
    out.unlink(missing_ok=True)
    flood = Flood(flood_exe)
    with err.open("wb") as errf:
        prog = BPFTRACE_PROG % (flood.pid, _getppid())
        bt = subprocess.Popen([exe, "-o", str(out), "-e", prog], stdout=subprocess.DEVNULL, stderr=errf)
    try:
        os.sched_setaffinity(bt.pid, {READER_CPU})  # before it starts its threads
        deadline = time.monotonic() + 120
        # It prints "Attaching 1 probe..." before attaching, and its output
        # is buffered: wait until the kernel lists its program as attached.
        while bt.pid not in _syscall_tracers():
            if bt.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bpftrace did not start: {err.read_text().strip()}")
            time.sleep(0.05)
        flood.release()
        fr = flood.finish()
        # Let it catch up (its output is buffered): stop once the file stops growing.
        size, stable_since = -1, time.monotonic()
        while time.monotonic() - stable_since < 0.3 and time.monotonic() < deadline:
            if out.stat().st_size != size:
                size, stable_since = out.stat().st_size, time.monotonic()
            time.sleep(0.05)
        bt.send_signal(signal.SIGINT)
        bt.wait(timeout=60)
    finally:
        if bt.poll() is None:
            bt.kill()
            bt.wait()
        if not flood.done():
            flood.proc.kill()
            flood.proc.wait()
    text = out.read_bytes()
    out.unlink()  # ~12 bytes an event
    delivered = sum(1 for line in text.splitlines() if line[:1].isdigit())
    lost = sum(int(n) for n in re.findall(rb"Lost (\d+) events", text))
    # Its reader keeps pace with a producer it slows down this much, so the
    # delivered rate is taken over the producer's own run.
    return Result(fr["calls"], fr["ns"], delivered, lost, fr["ns"])


def _other_syscall_tracers() -> list[int]:
    """Pids of other processes with BPF programs on syscall tracepoints: each
    adds its cost to every getppid() here, so a round they overlap is slow."""
    return [pid for pid in _syscall_tracers() if pid != os.getpid()]


def _syscall_tracers() -> list[int]:
    try:
        out = subprocess.run(["bpftool", "-j", "perf", "list"], capture_output=True, text=True, timeout=10)
        recs = json.loads(out.stdout or "[]")
    except (OSError, subprocess.SubprocessError, ValueError):
        return []
    names = {"sys_enter", "sys_exit", "sys_enter_getppid", "sys_exit_getppid"}
    return sorted({r["pid"] for r in recs if r.get("tracepoint") in names})


def _prog_misses() -> int:
    """recursion_misses summed over this process's BPF programs (fdinfo)."""
    total = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != "anon_inode:bpf-prog":
                continue
            with open(f"/proc/self/fdinfo/{fd}") as f:
                total += sum(int(line.split()[1]) for line in f if line.startswith("recursion_misses:"))
        except OSError:
            continue
    return total


def _cpu_ns() -> int:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return int((ru.ru_utime + ru.ru_stime) * 1e9)


def _object() -> Path:
    from ringscope.objects import object_path

    return object_path("syscalls")


def _getppid() -> int:
    from ringscope.sources.syscalls import syscall_number

    nr = syscall_number("getppid")
    if nr is None:
        raise RuntimeError("getppid: no syscall number in asm/unistd headers")
    return nr


# -- the section -------------------------------------------------------------


def run(report: Report) -> None:
    if os.geteuid() != 0:
        print("  skipped: the reader benchmark needs root")
        return
    if (os.cpu_count() or 1) < 2:
        print("  note: one CPU: producer and reader share it")
    flood_exe, reader_exe = build()
    scenarios: dict[str, Callable[[], Result]] = {
        "untraced": lambda: untraced(flood_exe),
        "no reader": lambda: c_reader(flood_exe, reader_exe, BIG_RING, NEVER, drain=False),
        "drop path": lambda: c_reader(flood_exe, reader_exe, RING, WAKEUP, drain=False),
        "C reader": lambda: c_reader(flood_exe, reader_exe, RING, WAKEUP, drain=True),
        "ringscope": lambda: ringscope_reader(flood_exe, RING, WAKEUP, drain=True),
        "ringscope paced": lambda: ringscope_reader(flood_exe, RING, WAKEUP, drain=True, pace=True),
        "ringscope drop path": lambda: ringscope_reader(flood_exe, RING, WAKEUP, drain=False),
    }
    results: dict[str, list[Result]] = {k: [] for k in scenarios}
    mismatches: list[str] = []
    for i in range(REPEAT):  # interleaved, so drift on a shared VM hits all alike
        for name, fn in scenarios.items():
            r = fn()
            if name != "untraced" and (bad := r.mismatch(name)):
                print(f"  ACCOUNTING MISMATCH {bad}", flush=True)
                mismatches.append(bad)
            results[name].append(r)
        line = ", ".join(_brief(k, v[-1]) for k, v in results.items())
        others = _other_syscall_tracers()
        warn = f" [other syscall tracers attached: pids {others}]" if others else ""
        print(f"  round {i + 1}/{REPEAT}: {line}{warn}", flush=True)
    exe = shutil.which("bpftrace")
    if exe and WITH_BPFTRACE:  # once: at ~10 us a call it is slow
        r = bpftrace(flood_exe, exe)
        print(f"  bpftrace: {_brief('bpftrace', r)}", flush=True)
        if r.delivered + r.lost != r.calls:
            print(f"  note: bpftrace left {r.calls - r.delivered - r.lost} events unaccounted")
        results["bpftrace"] = [r]
    else:
        print(
            "  bpftrace printf: skipped ("
            + ("not installed" if not exe else "RINGSCOPE_BENCH_BPFTRACE=0")
            + ")"
        )
    _figures(report, results)
    if mismatches:  # after the figures, so a run still shows them
        raise AssertionError("reader bench: events unaccounted for: " + "; ".join(mismatches))


def _brief(name: str, r: Result) -> str:
    counts = f" {r.delivered}/{r.lost}" if name != "untraced" else ""
    return f"{name} {r.ns_per_call:.0f} ns{counts}"


def _best(rs: list[Result], key: Callable[[Result], float], higher: bool = False) -> float:
    return max(key(r) for r in rs) if higher else min(key(r) for r in rs)


def _figures(report: Report, results: dict[str, list[Result]]) -> None:
    def fig(name: str, value: float, unit: str, base_name: str | None = None, base: float | None = None,
            higher: bool = False, target: str = "", runs: int = REPEAT) -> None:  # fmt: skip
        report.add(Figure(SECTION, name, value, unit, base_name, base, higher, target,
                          notes=f"best of {runs}, {N} events each"))  # fmt: skip

    ns = {k: _best(v, lambda r: r.ns_per_call) for k, v in results.items()}
    rate = {k: _best(v, lambda r: r.rate, higher=True) for k, v in results.items()}
    drain = {k: _best(v, lambda r: r.drain_rate, higher=True) for k, v in results.items()}
    lost = {k: sum(r.lost for r in v) for k, v in results.items()}
    total = REPEAT * N
    fig("untraced getppid", ns["untraced"], "ns/call")
    fig("reserve/submit, no reader (256 MiB ring)", ns["no reader"], "ns/call", "untraced", ns["untraced"])
    fig("no reader, full 16 MiB ring (drops counted)", ns["drop path"], "ns/call", "untraced", ns["untraced"])
    fig("  same, loaded by ringscope", ns["ringscope drop path"], "ns/call", "C loader", ns["drop path"])
    fig("C libbpf reader: producer cost", ns["C reader"], "ns/call", "no reader", ns["no reader"])
    fig("ringscope reader: producer cost", ns["ringscope"], "ns/call", "no reader", ns["no reader"],
        target="target <= 1.10x")  # fmt: skip
    fig("ringscope reader: producer cost vs C", ns["ringscope"], "ns/call", "C reader", ns["C reader"])
    fig("  ringscope, caller sleeps 0.5 ms between polls", ns["ringscope paced"], "ns/call", "no reader",
        ns["no reader"])  # fmt: skip
    fig("C libbpf reader: delivered", rate["C reader"], "events/s", higher=True)
    fig("ringscope reader: delivered", rate["ringscope"], "events/s", "C reader", rate["C reader"],
        higher=True, target="target >= 1.0x, zero loss")  # fmt: skip
    fig("  ringscope, caller sleeps 0.5 ms between polls", rate["ringscope paced"], "events/s", "C reader",
        rate["C reader"], higher=True)  # fmt: skip
    fig("C libbpf reader: lost (all runs)", lost["C reader"], "events", "produced", total)
    fig("ringscope reader: lost (all runs)", lost["ringscope"], "events", "produced", total)
    fig(
        "  ringscope, caller sleeps 0.5 ms between polls",
        lost["ringscope paced"],
        "events",
        "produced",
        total,
    )
    fig("C libbpf reader: drain a full 16 MiB ring", drain["drop path"], "events/s", higher=True)
    fig("ringscope reader: drain a full 16 MiB ring", drain["ringscope drop path"], "events/s",
        "C reader", drain["drop path"], higher=True)  # fmt: skip
    cpu = {k: _best(v, lambda r: r.cpu_ns / max(r.delivered, 1)) for k, v in results.items()}
    fig("C libbpf reader: CPU per event", cpu["C reader"], "ns/event")
    fig("ringscope reader: CPU per event", cpu["ringscope"], "ns/event", "C reader", cpu["C reader"])
    fig("  ringscope, caller sleeps 0.5 ms between polls", cpu["ringscope paced"], "ns/event", "C reader",
        cpu["C reader"])  # fmt: skip
    batch = {k: _best(v, lambda r: r.delivered / max(r.drains, 1), higher=True) for k, v in results.items()}
    fig("C libbpf reader: events per wakeup", batch["C reader"], "events", higher=True)
    fig("ringscope reader: events per poll()", batch["ringscope"], "events", "C reader", batch["C reader"],
        higher=True)  # fmt: skip
    fig("  ringscope, caller sleeps 0.5 ms between polls", batch["ringscope paced"], "events", "C reader",
        batch["C reader"], higher=True)  # fmt: skip
    skipped = sum(r.misses for v in results.values() for r in v)
    fig("program runs skipped by the kernel (all runs)", skipped, "runs", runs=1)
    if lost["C reader"] or lost["ringscope"]:
        print("  note: a reader lost events, so its rate is not a lossless rate")
    if "bpftrace" in results:
        bt = results["bpftrace"][0]
        fig("bpftrace printf: producer cost", bt.ns_per_call, "ns/call", "untraced", ns["untraced"], runs=1)
        fig("bpftrace printf: delivered", bt.rate, "events/s", higher=True, runs=1)
        fig("bpftrace printf: lost", bt.lost, "events", "produced", bt.calls, runs=1)
        fig("ringscope delivered vs bpftrace", rate["ringscope"], "events/s", "bpftrace", bt.rate,
            higher=True, target="target >= 20x")  # fmt: skip
        slow = {k: ns[k] / ns["untraced"] for k in ("ringscope", "bpftrace")}
        fig("ringscope producer slowdown vs bpftrace", slow["ringscope"], "x untraced", "bpftrace",
            slow["bpftrace"], target="target <= 0.10x")  # fmt: skip
