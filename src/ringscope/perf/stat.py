"""The counting API behind `ringscope stat`: open counters on a target, run
until the command exits / the process exits / Ctrl-C, optionally reporting
deltas every interval."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..command import TERM_GRACE_S, Command, exit_status
from ..errors import BadInput
from ..watch import ProcessWatch
from .counting import CounterSet, Reading
from .events import parse_events
from .target import Target, cgroup_dir
from .tool import CpuClock, ToolTimes, tool_value

__all__ = ["DEFAULT_EVENTS", "DETAILED_EVENTS", "Counts", "StatResult", "default_events", "stat"]

DEFAULT_EVENTS = [
    "task-clock", "context-switches", "cpu-migrations", "page-faults",
    "cycles", "instructions", "branches", "branch-misses",
]  # fmt: skip
# perf stat -d, -dd, -ddd: each level adds its events to the default set.
DETAILED_EVENTS = [
    ["L1-dcache-loads", "L1-dcache-load-misses", "LLC-loads", "LLC-load-misses"],
    ["L1-icache-loads", "L1-icache-load-misses", "dTLB-loads", "dTLB-load-misses", "iTLB-loads",
     "iTLB-load-misses"],
    ["L1-dcache-prefetches", "L1-dcache-prefetch-misses"],
]  # fmt: skip


def default_events(detailed: int = 0) -> list[str]:
    """perf's default events, with the cache events of -d (-dd, -ddd)."""
    return DEFAULT_EVENTS + [e for level in DETAILED_EVENTS[:detailed] for e in level]


@dataclass(frozen=True)
class Counts:
    """Counts at one moment: totals, and per CPU for per-CPU targets."""

    readings: list[Reading]
    per_cpu: dict[int, list[Reading]] | None = None

    def __sub__(self, old: Counts) -> Counts:
        per = None
        if self.per_cpu is not None and old.per_cpu is not None:
            per = {cpu: _minus(rs, old.per_cpu[cpu]) for cpu, rs in self.per_cpu.items()}
        return Counts(_minus(self.readings, old.readings), per)


def fill(readings: list[Reading], t: ToolTimes) -> list[Reading]:
    """`readings` with each tool event's value put in (others unchanged)."""
    out = []
    for r in readings:
        if r.event.kind != "tool":
            out.append(r)
            continue
        v = tool_value(r.event.name, t)
        if v is None:
            out.append(replace(r, raw=0, enabled=0, running=0, supported=False,
                               reason="only for a command counted with -- CMD"))  # fmt: skip
        else:
            out.append(replace(r, raw=v, enabled=t.wall_ns, running=t.wall_ns, supported=True, reason=""))
    return out


def _minus(new: list[Reading], old: list[Reading]) -> list[Reading]:
    return [a - b if a.supported else a for a, b in zip(new, old, strict=True)]


# (counts since the last interval, interval length ns, seconds since start)
IntervalCallback = Callable[[Counts, int, float], None]


class _Progress:
    """Reads the counters (tool events filled in) and reports interval
    deltas. Not thread-safe."""

    def __init__(
        self, cs: CounterSet, on_interval: IntervalCallback | None, clock: CpuClock | None, start: float
    ) -> None:
        self.cs, self.on_interval, self.clock, self.start = cs, on_interval, clock, start
        self.prev, self.prev_t = self.read(self.start, False), self.start

    def read(self, at: float, reaped: bool) -> Counts:
        user = sys_ = None
        if self.clock is not None:
            user, sys_ = self.clock.read(reaped)
        times = ToolTimes(int((at - self.start) * 1e9), user, sys_)
        per = self.cs.read_per_cpu() if self.cs.target.per_cpu else None
        return Counts(fill(self.cs.read(), times),
                      None if per is None else {c: fill(rs, times) for c, rs in per.items()})  # fmt: skip

    def tick(self, at: float, final: bool = False) -> None:
        if self.on_interval is None:
            return
        if final and at <= self.prev_t:
            return  # the run ended as a print was made: nothing new to say
        cur = self.read(at, final)
        self.on_interval(cur - self.prev, int((at - self.prev_t) * 1e9), at - self.start)
        self.prev, self.prev_t = cur, at


@dataclass(frozen=True)
class StatResult:
    readings: list[Reading]
    wall_ns: int
    label: str
    exit_code: int | None  # the command's status as a shell reports it, when one ran
    user_s: float | None = None  # the command's CPU time, when it is what was counted
    sys_s: float | None = None
    per_cpu: dict[int, list[Reading]] | None = None  # per-CPU targets (-a, -C, -G)
    exit_status: int = 0  # what `ringscope stat` exits with (ringscope.command.exit_status)
    interrupted: bool = False  # Ctrl-C ended the run


class _Waiter:
    """Blocks until the run's end: the command's exit, the process's exit
    (-p), or nothing (-a: until Ctrl-C). Wakes at the exit itself (pidfd),
    not at the next poll, so the last interval is stamped when it happens."""

    def __init__(self, cmd: Command | None, pid: int | None) -> None:
        self.cmd = cmd
        self._watch = ProcessWatch(pid) if cmd is None and pid is not None else None

    def wait(self, timeout: float | None) -> bool:
        """True once the watched process has ended; waits up to `timeout`."""
        if self.cmd is not None:
            return self.cmd.wait(timeout) is not None
        if self._watch is not None:
            return self._watch.gone(timeout)
        time.sleep(0.05 if timeout is None else min(timeout, 0.05))
        return False

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()


def _run(waiter: _Waiter, duration: float | None, interval_ms: int | None, prog: _Progress) -> float:
    """Count until the end; returns the monotonic time the run ended."""
    start = prog.start
    step = interval_ms / 1000 if interval_ms else None
    deadline = start + duration if duration else None
    next_tick = start + step if step else None
    while True:
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return now
        wake = min((t for t in (next_tick, deadline) if t is not None), default=None)
        if waiter.wait(None if wake is None else max(0.0, wake - now)):
            return time.monotonic()
        now = time.monotonic()
        if next_tick is not None and step is not None and now >= next_tick:
            prog.tick(now)
            next_tick += step


def _target(
    pid: int | None, tids: list[int] | None, system_wide: bool, cpus: list[int] | None,
    cgroup: str | None, cmd: Command | None,
) -> Target:  # fmt: skip
    if system_wide or cpus is not None or cgroup is not None:
        return Target.system_wide_on(cpus, cgroup_dir(cgroup) if cgroup is not None else None)
    if tids:
        return Target.threads(tids)
    if pid is not None:
        return Target.process(pid)
    if cmd is not None:
        return Target.command(cmd)
    raise BadInput("nothing to count: give -p PID, -t TID, -a, -C CPUS or -- CMD")


def stat(
    events: list[str] | None = None,
    *,
    pid: int | None = None,
    tids: list[int] | None = None,
    system_wide: bool = False,
    cpus: list[int] | None = None,
    cgroup: str | None = None,
    argv: list[str] | None = None,
    duration: float | None = None,
    interval_ms: int | None = None,
    on_interval: IntervalCallback | None = None,
) -> StatResult:
    """Count `events` (perf names, `{a,b}` groups, tracepoint globs, tool
    events) on a command, a process, threads, or CPUs (all, `cpus`, only
    the tasks of `cgroup`), like `perf stat`. With `argv` and another
    target, the command only sets the duration, as in perf. Ctrl-C stops
    counting and still returns the counts (exit_status 130)."""
    groups = parse_events(events or DEFAULT_EVENTS)
    cmd = Command(argv) if argv else None
    waiter: _Waiter | None = None
    stopped_by = None
    try:
        target = _target(pid, tids, system_wide, cpus, cgroup, cmd)
        counted_cmd = cmd is not None and target.enable_on_exec
        with CounterSet(groups, target) as cs:
            clock = CpuClock(cmd.pid) if counted_cmd and cmd is not None else None
            # The first reading (all zero) before anything counts: nothing
            # counted between the exec and a later first reading is lost to -I.
            prog = _Progress(cs, on_interval if interval_ms else None, clock, time.monotonic())
            if cmd is not None:
                cmd.go()
            if not target.enable_on_exec:
                cs.enable()
            waiter = _Waiter(cmd, target.pid if target.pid > 0 and cmd is None else None)
            try:
                end = _run(waiter, duration, interval_ms, prog)
            except KeyboardInterrupt:
                end, stopped_by = time.monotonic(), signal.SIGINT
                if cmd is not None:
                    cmd.wait(TERM_GRACE_S)  # it had the terminal's SIGINT too
            cs.disable()
            reaped = cmd is not None and cmd.poll() is not None
            prog.tick(end, final=True)  # the last, partial interval
            final = prog.read(end, reaped)
        wall = int((end - prog.start) * 1e9)
        user = sys_ = None
        if clock is not None:
            user_ns, sys_ns = clock.read(reaped)
            user, sys_ = user_ns / 1e9, sys_ns / 1e9
        status = exit_status(cmd, stopped_by)
        return StatResult(final.readings, wall, target.label, cmd.status if cmd else None, user, sys_,
                          final.per_cpu, status, stopped_by is not None)  # fmt: skip
    finally:
        if waiter is not None:
            waiter.close()
        if cmd is not None:
            cmd.close()
