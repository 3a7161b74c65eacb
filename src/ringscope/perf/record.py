"""The sampling API behind `ringscope record` (and `GET /api/profile`):
profile a command, a process or every CPU until it ends, a duration
passes, or Ctrl-C, and return a Profile.

Two modes. The default reads every sample from the perf rings with the
mapping records that symbolize it (ringsampler.py + assemble.py): one row
per sample, fp or dwarf call graphs, tracepoints. `aggregate=True` is the
low-overhead mode: a BPF program counts stacks in the kernel (sampling.py),
frame pointers only, no per-sample records.
"""

from __future__ import annotations

import os
import platform
import signal
import time
from collections.abc import Callable
from typing import Any

from ..command import TERM_GRACE_S, Command, exit_status
from ..errors import BadInput
from ..watch import ProcessWatch
from .assemble import assemble
from .callgraph import FP, NONE, CallGraph, parse_callgraph
from .profile import Profile
from .ringsampler import RingSampler
from .sampling import Profiler
from .target import Target
from .tasks import proc_comm

__all__ = ["DEFAULT_FREQ", "profile_for", "record"]

_POLL_S = 0.05  # the loop's tick: how late an exit or a deadline is noticed
# Samples per second unless told: top's rate. Not perf's 4000 Hz: every
# sample is read and decoded by Python, on machines as small as 2 CPUs,
# and perf users lower 4000 anyway; 99 Hz gave too few samples to read.
DEFAULT_FREQ = 999


def _target(pid: int | None, system_wide: bool, cmd: Command | None) -> Target:
    if system_wide:
        return Target.system_wide()
    if pid is not None:
        return Target.process(pid)
    if cmd is not None:
        return Target.command(cmd)
    raise BadInput("nothing to profile: give -p PID, -a or -- CMD")


def _done(cmd: Command | None, watch: ProcessWatch | None, deadline: float | None) -> bool:
    if cmd is not None and cmd.poll() is not None:
        return True
    if watch is not None and watch.gone():
        return True
    return deadline is not None and time.monotonic() >= deadline


def _meta(event: str, freq: int | None, period: int | None, cg: CallGraph, target: Target) -> dict[str, Any]:
    return {
        "event": event, "freq": freq, "period": period, "callgraph": str(cg), "callchain": cg.enabled,
        "target": target.label, "kernel": platform.release(), "arch": platform.machine(),
        "hostname": platform.node(), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "start_unix_ns": time.time_ns(),
    }  # fmt: skip


def _seeds(target: Target, pid: int | None) -> list[int]:
    """Processes alive before the recording: their maps come from /proc."""
    if target.per_cpu:  # -a: every process that already runs
        return [int(p) for p in os.listdir("/proc") if p.isdigit()]
    return [pid] if pid is not None else []


class _Loop:
    """Runs until the command ends, the process goes, the duration passes
    or Ctrl-C; `tick` is called every turn."""

    def __init__(self, cmd: Command | None, pid: int | None, duration: float | None) -> None:
        self.cmd, self.pid, self.duration = cmd, pid, duration
        self.deadline: float | None = None
        self.stopped_by: signal.Signals | None = None

    def run(self, tick: Callable[[], None]) -> None:
        # The duration counts from the moment sampling is on, not from the call.
        self.deadline = time.monotonic() + self.duration if self.duration else None
        watch = ProcessWatch(self.pid) if self.cmd is None and self.pid is not None else None
        try:
            while not _done(self.cmd, watch, self.deadline):
                tick()
        except KeyboardInterrupt:
            self.stopped_by = signal.SIGINT
            if self.cmd is not None:
                self.cmd.wait(TERM_GRACE_S)  # it had the terminal's SIGINT too
        finally:
            if watch is not None:
                watch.close()


def _record_ring(target: Target, loop: _Loop, event: str | None, freq: int | None,
                 period: int | None, cg: CallGraph, pid: int | None) -> Profile:  # fmt: skip
    seeds = _seeds(target, pid)
    names = {p: name for p in seeds if (name := proc_comm(p))}
    with RingSampler(target, event, freq=freq, period=period, callgraph=cg) as s:
        if loop.cmd is not None:
            loop.cmd.go()
        if not target.enable_on_exec:
            s.enable()
        started = time.monotonic_ns()

        def tick() -> None:
            s.wait(_POLL_S)
            s.collect()

        loop.run(tick)
        s.disable()
        s.collect()
        meta = _meta(s.event.name, s.freq, s.period, cg, target)
        meta["duration_ns"] = time.monotonic_ns() - started
        records = s.records
    unwind = None
    if cg.mode == "dwarf":
        from .unwind import DwarfUnwinder

        unwind = DwarfUnwinder().unwind
    return assemble(records, meta, seeds=seeds, unwind=unwind, names=names)


def _record_bpf(target: Target, loop: _Loop, event: str | None, freq: int | None,
                period: int | None, cg: CallGraph) -> Profile:  # fmt: skip
    if cg.mode == "dwarf":
        raise BadInput("--aggregate takes frame-pointer call graphs only (-g), not dwarf")
    with Profiler(target, event, freq=freq, period=period, callchain=cg.enabled) as prof:
        if loop.cmd is not None:
            loop.cmd.go()
        if not target.enable_on_exec:
            prof.enable()
        started = time.monotonic_ns()

        def tick() -> None:
            prof.poll()
            time.sleep(_POLL_S)

        loop.run(tick)
        prof.disable()
        meta = _meta(prof.event.name, prof.freq, prof.period, cg, target)
        meta["duration_ns"] = time.monotonic_ns() - started
        return prof.profile(meta)


def record(
    event: str | None = None,
    *,
    pid: int | None = None,
    system_wide: bool = False,
    argv: list[str] | None = None,
    freq: int | None = DEFAULT_FREQ,
    period: int | None = None,
    callgraph: str | CallGraph | None = None,
    callchain: bool | None = None,
    duration: float | None = None,
    aggregate: bool = False,
) -> tuple[Profile, int]:
    """Sample and return (profile, exit status): the status follows the
    one rule of ringscope.command.exit_status (the command's status; 130
    after Ctrl-C; else 0). With argv and pid/system_wide the command only
    sets the duration.
    `callgraph`: "fp", "dwarf[,SIZE]" or "none"; `callchain=True` is "fp"."""
    cg = parse_callgraph(callgraph) if isinstance(callgraph, str) else callgraph
    if cg is None:
        cg = FP if callchain else NONE
    cmd = Command(argv) if argv else None
    try:
        target = _target(pid, system_wide, cmd)
        loop = _Loop(cmd, pid, duration)
        if aggregate:
            prof = _record_bpf(target, loop, event, freq, period, cg)
        else:
            prof = _record_ring(target, loop, event, freq, period, cg, pid)
        return prof, exit_status(cmd, loop.stopped_by)
    finally:
        if cmd is not None:
            cmd.close()


def profile_for(
    seconds: float,
    *,
    pid: int | None = None,
    callgraph: str = "fp",
    event: str | None = None,
    freq: int = 99,
) -> Profile:
    """`seconds` of samples of process `pid`, or of every CPU: the call
    behind `GET /api/profile`. Blocks the calling thread for that long
    (run it in an executor from async code). Raises BadInput,
    PermissionDenied, NotSupported (RingscopeError) like record()."""
    if not seconds > 0:
        raise BadInput("the profiling duration must be positive")
    prof, _ = record(
        event, pid=pid, system_wide=pid is None, freq=freq, callgraph=callgraph, duration=seconds
    )
    return prof
