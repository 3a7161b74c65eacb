"""`ringscope trace` on a burst: is every consumer faster than the producer?

A C program makes N = 300,000 failing openat(2) calls as fast as it can (a
single-CPU burst). `ringscope trace -p PID -o /dev/null` with default
settings streams them as JSON and as text, for the dedicated `open` event
and for the generic tracepoint `syscalls:sys_enter_openat`. For each we
report the fraction of the burst delivered (the rest is counted as kernel
loss) and the tracer's own CPU time per event (user + system, from wait4),
against bpftrace printing the same burst with printf, in the same run.
Producer and consumer are pinned to different CPUs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.bench_dynamic import build
from bench.report import Figure, Report

SECTION = "trace"
N = 300_000
PRODUCER_CPU, CONSUMER_CPU = 0, 1
CASES = [("open", "json"), ("open", "text"), ("syscalls:sys_enter_openat", "json"),
         ("syscalls:sys_enter_openat", "text")]  # fmt: skip
BPFTRACE = (
    'tracepoint:syscalls:sys_enter_openat /pid == %d/ { printf("%%d %%s\\n", tid, str(args->filename)); }'
)
SUMMARY = re.compile(r"ringscope: (\d+) events, lost (\d+) in the kernel, (\d+) in the daemon")


@dataclass
class Run:
    delivered: int
    lost: int
    cpu_ns: int  # the consumer's own CPU time
    producer_ns: int  # the burst's duration, as the producer measured it

    @property
    def fraction(self) -> float:
        return self.delivered / N

    @property
    def cpu_per_event(self) -> float:
        return self.cpu_ns / max(1, self.delivered)


def _flood(exe: Path) -> subprocess.Popen[bytes]:
    p = subprocess.Popen([str(exe), str(N), "--linger"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    os.sched_setaffinity(p.pid, {PRODUCER_CPU})
    return p


def _release_and_finish(flood: subprocess.Popen[bytes]) -> int:
    """Release the burst and wait for its end; a --linger flood stays alive
    (so that a `-p` tracer keeps running) until its stdin is closed."""
    assert flood.stdin is not None and flood.stdout is not None
    flood.stdin.write(b"x")
    flood.stdin.flush()
    out = flood.stdout.readline()
    return int(json.loads(out)["ns"])


def _attached(pid: int) -> bool:
    """True once process `pid` has BPF programs on perf events (tracepoints)."""
    out = subprocess.run(["bpftool", "-j", "perf", "list"], capture_output=True, text=True, timeout=10)
    try:
        return any(r.get("pid") == pid for r in json.loads(out.stdout or "[]"))
    except ValueError:
        return False


def _cpu_ns(pid: int) -> int:
    """CPU time of every thread of `pid` so far, in ns (schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        total += int((task / "schedstat").read_text().split()[0])
    return total


def _consume(argv: list[str], flood: subprocess.Popen[bytes], **popen: object) -> tuple[int, int, bytes]:
    """Start a consumer, release the flood once it is attached, stop it a
    second after the flood ends; (producer ns, the consumer's CPU ns from the
    release to that second's end (start-up and shutdown left out), its stderr)."""
    tracer = subprocess.Popen(argv, stderr=subprocess.PIPE, **popen)  # type: ignore[call-overload]
    try:
        os.sched_setaffinity(tracer.pid, {CONSUMER_CPU})
        deadline = time.monotonic() + 120
        while not _attached(tracer.pid):
            if tracer.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} did not start: {tracer.stderr.read().decode()}")
            time.sleep(0.05)
        cpu0 = _cpu_ns(tracer.pid)
        producer_ns = _release_and_finish(flood)
        time.sleep(1.0)  # let it drain what is still in the ring
        cpu = _cpu_ns(tracer.pid) - cpu0
        assert flood.stdin is not None
        flood.stdin.close()  # a lingering flood ends now; the tracer follows it (-p) or the SIGINT
        tracer.send_signal(signal.SIGINT)
        err = tracer.stderr.read()
        tracer.wait(timeout=120)
        return producer_ns, cpu, err
    finally:
        if tracer.returncode is None:
            tracer.kill()
            tracer.wait()
        if flood.poll() is None:
            flood.kill()
            flood.wait()


def ringscope(exe: Path, event: str, fmt: str) -> Run:
    flood = _flood(exe)
    argv = [sys.executable, "-m", "ringscope", "trace", "-e", event, "--format", fmt, "-p", str(flood.pid),
            "-o", os.devnull]  # fmt: skip
    producer_ns, cpu, err = _consume(argv, flood, stdout=subprocess.DEVNULL)
    m = SUMMARY.search(err.decode())
    if m is None:
        raise RuntimeError(f"no summary from ringscope: {err.decode()}")
    return Run(int(m[1]), int(m[2]), cpu, producer_ns)


def bpftrace(exe: Path, bt: str) -> Run:
    flood = _flood(exe)
    out = exe.with_name("bpftrace.out")
    argv = [bt, "-o", str(out), "-e", BPFTRACE % flood.pid]
    producer_ns, cpu, _ = _consume(argv, flood, stdout=subprocess.DEVNULL)
    text = out.read_bytes()
    out.unlink()
    delivered = sum(1 for line in text.splitlines() if line[:1].isdigit())
    lost = sum(int(n) for n in re.findall(rb"Lost (\d+) events", text))
    return Run(delivered, lost, cpu, producer_ns)


def untraced(exe: Path) -> int:
    flood = _flood(exe)
    return _release_and_finish(flood)


def run(report: Report) -> None:
    exe = build()
    base_ns = untraced(exe)
    bt_exe = shutil.which("bpftrace")
    bt = bpftrace(exe, bt_exe) if bt_exe else None
    if bt is not None:
        print(
            f"  bpftrace printf: {bt.delivered}/{N} delivered, {bt.cpu_per_event:.0f} ns CPU/event",
            flush=True,
        )
        report.add(Figure(SECTION, "bpftrace printf: producer", bt.producer_ns / N, "ns/call", "untraced",
                          base_ns / N, higher_is_better=False))  # fmt: skip
    for event, fmt in CASES:
        r = ringscope(exe, event, fmt)
        name = f"trace -e {event} --format {fmt}"
        extra = f"{r.delivered:,} of {N:,}, {r.lost:,} counted lost"
        report.add(Figure(SECTION, f"{name}: delivered", 100 * r.fraction, "%",
                          "bpftrace printf" if bt else None, 100 * bt.fraction if bt else None,
                          target="target >= 99 %", notes=extra))  # fmt: skip
        report.add(Figure(SECTION, f"{name}: consumer CPU", r.cpu_per_event, "ns/event",
                          "bpftrace printf" if bt else None, bt.cpu_per_event if bt else None,
                          higher_is_better=False))  # fmt: skip
        report.add(Figure(SECTION, f"{name}: producer", r.producer_ns / N, "ns/call", "untraced", base_ns / N,
                          higher_is_better=False))  # fmt: skip
