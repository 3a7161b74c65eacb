"""The counting API behind `ringscope stat`: open counters on a target, run
until the command exits / the process exits / Ctrl-C, optionally reporting
deltas every interval."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import BadInput
from .counting import CounterSet, Reading
from .events import parse_events
from .target import Command, Target

__all__ = ["DEFAULT_EVENTS", "StatResult", "stat"]

DEFAULT_EVENTS = [
    "task-clock", "context-switches", "cpu-migrations", "page-faults",
    "cycles", "instructions", "branches", "branch-misses",
]  # fmt: skip

# (readings since the last interval, interval length ns, seconds since start)
IntervalCallback = Callable[[list[Reading], int, float], None]


class _Progress:
    """Counts at the last interval print, to report deltas."""

    def __init__(self, cs: CounterSet, start: float, on_interval: IntervalCallback | None) -> None:
        self.cs, self.start, self.on_interval = cs, start, on_interval
        self.prev, self.prev_t = cs.read(), start

    def tick(self, final: bool = False) -> None:
        if self.on_interval is None:
            return
        cur, t = self.cs.read(), time.monotonic()
        if final and t - self.prev_t < 0.01:
            return  # the run ended just after a print: nothing new to say
        deltas = [c - p for c, p in zip(cur, self.prev, strict=True)]
        self.on_interval(deltas, int((t - self.prev_t) * 1e9), t - self.start)
        self.prev, self.prev_t = cur, t


@dataclass(frozen=True)
class StatResult:
    readings: list[Reading]
    wall_ns: int
    label: str
    exit_code: int | None  # the command's, when there was one
    user_s: float | None = None  # the command's CPU time, when there was one
    sys_s: float | None = None


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


def _run(
    cmd: Command | None, pid: int, duration: float | None, interval_ms: int | None, prog: _Progress
) -> None:
    start = prog.start
    step = interval_ms / 1000 if interval_ms else None
    next_tick = start + step if step else None
    while True:
        if cmd is not None and next_tick is None and duration is None:
            cmd.wait()  # block: no polling latency on the elapsed time
            return
        now = time.monotonic()
        if (cmd is not None and cmd.poll() is not None) or (pid > 0 and cmd is None and not _alive(pid)):
            return
        if duration is not None and now - start >= duration:
            return
        wake = min(t for t in (next_tick, start + duration if duration else None, now + 0.1) if t is not None)
        time.sleep(max(0.0, wake - now))
        if next_tick is not None and step is not None and time.monotonic() >= next_tick:
            prog.tick()
            next_tick += step


def stat(
    events: list[str] | None = None,
    *,
    pid: int | None = None,
    system_wide: bool = False,
    argv: list[str] | None = None,
    duration: float | None = None,
    interval_ms: int | None = None,
    on_interval: IntervalCallback | None = None,
) -> StatResult:
    """Count `events` (perf names, `{a,b}` groups) on a command, a process
    or every CPU, like `perf stat`. With `argv` and pid/system_wide, the
    command only sets the duration, as in perf. Ctrl-C stops counting and
    still returns the counts."""
    groups = parse_events(events or DEFAULT_EVENTS)
    cmd = Command(argv) if argv else None
    try:
        if system_wide:
            target = Target.system_wide()
        elif pid is not None:
            target = Target.process(pid)
        elif cmd is not None:
            target = Target.command(cmd)
        else:
            raise BadInput("nothing to count: give -p PID, -a or -- CMD")
        with CounterSet(groups, target) as cs:
            start = time.monotonic_ns()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            if cmd is not None:
                cmd.go()
            if not target.enable_on_exec:
                cs.enable()
            prog = _Progress(cs, time.monotonic(), on_interval if interval_ms else None)
            try:
                _run(cmd, pid or -1, duration, interval_ms, prog)
            except KeyboardInterrupt:
                if cmd is not None:
                    cmd.wait()
            cs.disable()
            prog.tick(final=True)  # the last, partial interval
            wall = time.monotonic_ns() - start
            readings = cs.read()
        if cmd is None:
            return StatResult(readings, wall, target.label, None)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        user, sys_ = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
        return StatResult(readings, wall, target.label, cmd.status, user, sys_)
    finally:
        if cmd is not None:
            cmd.close()
