"""perf's tool events, measured by ringscope rather than by a perf_event:
`duration_time` (wall-clock time of the run or interval), `user_time` and
`system_time` (CPU time of the counted command). Values in ns, as perf
prints them. user_time and system_time only exist when the target is the
command we started: with -p or -a the command only times the run, and its
CPU time would describe the wrong thing."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TOOL_EVENTS", "CpuClock", "ToolTimes", "tool_value"]

TOOL_EVENTS = {
    "duration_time": "Wall-clock time of the run, ns",
    "user_time": "User CPU time of the counted command, ns",
    "system_time": "System CPU time of the counted command, ns",
}
_TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ToolTimes:
    """What the tool events read for one run or interval."""

    wall_ns: int
    user_ns: int | None = None  # None: the target is not our command
    sys_ns: int | None = None


def tool_value(name: str, t: ToolTimes) -> int | None:
    """What tool event `name` reads in `t`; None when it has no value here."""
    return {"duration_time": t.wall_ns, "user_time": t.user_ns, "system_time": t.sys_ns}[name]


def _proc_times(pid: int) -> tuple[int, int] | None:
    """(user, sys) ns of `pid` and its reaped children, from /proc/PID/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    f = text.rpartition(")")[2].split()
    # Fields 14-17 of proc(5): utime stime cutime cstime, in clock ticks.
    return (int(f[11]) + int(f[13])) * _TICK_NS, (int(f[12]) + int(f[14])) * _TICK_NS


class CpuClock:
    """CPU time of the command `pid`, cumulative since start(): read from
    /proc while it runs, from getrusage(RUSAGE_CHILDREN) once it is reaped
    (exact, and the only source left). Not thread-safe."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._before = (ru.ru_utime, ru.ru_stime)
        self._last = (0, 0)

    def read(self, reaped: bool) -> tuple[int, int]:
        if reaped:
            ru = resource.getrusage(resource.RUSAGE_CHILDREN)
            user, sys_ = ru.ru_utime - self._before[0], ru.ru_stime - self._before[1]
            self._last = (int(user * 1e9), int(sys_ * 1e9))
        else:
            self._last = _proc_times(self.pid) or self._last
        return self._last
