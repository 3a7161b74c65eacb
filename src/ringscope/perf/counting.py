"""Counting mode (`perf stat`): one fd per event per placement, grouped as
the user asked, read with time_enabled/time_running so counts that were
multiplexed off the PMU can be scaled up."""

from __future__ import annotations

import errno
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from .._perf import syscall
from .._perf.attr import PerfEventAttr, constants
from ..closing import Closing
from ..errors import BadInput, PermissionDenied, RingscopeError
from .events import EventDesc
from .target import Target

__all__ = ["CounterSet", "Reading"]

# errnos with which perf_event_open says "this machine cannot count that":
# ENOENT (no such hw event, e.g. no PMU in a VM), EOPNOTSUPP, ENODEV, and
# EINVAL for a config the PMU driver rejects.
_UNSUPPORTED = {errno.ENOENT, errno.EOPNOTSUPP, errno.ENODEV, errno.EINVAL}


@dataclass(frozen=True)
class Reading:
    """One event's count, summed over its placements."""

    event: EventDesc
    raw: int
    enabled: int  # ns the event was enabled
    running: int  # ns it was actually on the PMU
    supported: bool = True
    reason: str = ""

    @property
    def counted(self) -> bool:
        return self.supported and self.running > 0

    @property
    def value(self) -> float:
        """The count scaled for multiplexing: raw * enabled / running."""
        if not self.running:
            return 0.0
        if self.running >= self.enabled:
            return float(self.raw)
        return self.raw * self.enabled / self.running

    @property
    def pcnt_running(self) -> float:
        return 100.0 * self.running / self.enabled if self.enabled else 100.0

    def __sub__(self, other: Reading) -> Reading:
        return Reading(
            self.event, self.raw - other.raw, self.enabled - other.enabled,
            self.running - other.running, self.supported, self.reason,
        )  # fmt: skip

    def __add__(self, other: Reading) -> Reading:
        return Reading(
            self.event, self.raw + other.raw, self.enabled + other.enabled,
            self.running + other.running, self.supported and other.supported, self.reason or other.reason,
        )  # fmt: skip


class _Counter:
    def __init__(self, event: EventDesc) -> None:
        self.event = event
        self.fds: list[int] = []
        self.cpus: list[int] = []  # the CPU of each fd (-1: any), for per-CPU reads
        self.reason = ""


def _attr(ev: EventDesc, target: Target, leader: bool) -> bytes:
    c = constants()
    attr = PerfEventAttr(
        type=ev.type,
        config=ev.config,
        read_format=c["PERF_FORMAT_TOTAL_TIME_ENABLED"] | c["PERF_FORMAT_TOTAL_TIME_RUNNING"],
        exclude_user=int(ev.exclude_user),
        exclude_kernel=int(ev.exclude_kernel),
        inherit=int(target.inherit),
    )
    # Only the leader is disabled: members follow their leader's state.
    if leader:
        attr["disabled"] = 1
        attr["enable_on_exec"] = int(target.enable_on_exec)
    return bytes(attr)


def _open_dir(path: Path) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise BadInput(f"cgroup {path}: {e.strerror}") from None


class CounterSet(Closing):
    """Counters for event groups on a target. Owns every fd it opens;
    close() (or the context manager) releases them. Not thread-safe.

    An event this machine cannot count is kept with supported=False and
    a reason (perf's `<not supported>`); a permission problem or a
    vanished target raises instead.
    """

    def __init__(self, groups: list[list[EventDesc]], target: Target) -> None:
        self.target = target
        self.counters: list[_Counter] = []
        self._leaders: list[int] = []
        self._cgroup_fd = -1
        try:
            if target.cgroup is not None:
                # Only needed while opening: each event holds the cgroup itself.
                self._cgroup_fd = _open_dir(target.cgroup)
            for group in groups:
                self._open_group(group)
        except BaseException:
            self.close()
            raise
        finally:
            if self._cgroup_fd >= 0:
                os.close(self._cgroup_fd)
                self._cgroup_fd = -1

    def _open_one(self, ev: EventDesc, pid: int, cpu: int, group_fd: int) -> int | None:
        flags = 0
        if self._cgroup_fd >= 0:
            pid, flags = self._cgroup_fd, syscall.PERF_FLAG_PID_CGROUP
        try:
            return syscall.open_event(_attr(ev, self.target, group_fd < 0), pid, cpu, group_fd, flags)
        except OSError as e:
            err = e.errno or errno.EINVAL
            if err in (errno.EACCES, errno.EPERM):
                raise PermissionDenied(
                    f"perf_event_open {ev.name}: {os.strerror(err)} (needs CAP_PERFMON)"
                ) from None
            if err == errno.ESRCH:
                raise BadInput(f"no such process: {pid}") from None
            if err in _UNSUPPORTED:
                return None
            raise RingscopeError(f"perf_event_open {ev.name}: {os.strerror(err)}") from None

    def _open_group(self, group: list[EventDesc]) -> None:
        counters = [_Counter(ev) for ev in group]
        self.counters.extend(counters)
        for pid, cpu in self.target.placements:
            leader = -1
            for c in counters:
                if c.reason or c.event.kind == "tool":  # tool events: measured by the caller
                    continue
                fd = self._open_one(c.event, pid, cpu, leader)
                if fd is None:
                    c.reason = "not supported"
                    for old in c.fds:
                        os.close(old)
                    c.fds.clear()
                    c.cpus.clear()
                    continue
                c.fds.append(fd)
                c.cpus.append(cpu)
                if leader < 0:
                    leader = fd
                    self._leaders.append(fd)

    def enable(self) -> None:
        for fd in self._leaders:
            syscall.enable(fd, group=True)

    def disable(self) -> None:
        for fd in self._leaders:
            syscall.disable(fd, group=True)

    def read(self) -> list[Reading]:
        """Each event's count, summed over its placements."""
        return [sum(per[1:], per[0]) for per in self._read_all()]

    def read_per_cpu(self) -> dict[int, list[Reading]]:
        """Each CPU's counts (per-CPU targets: -a, -C, -G), by CPU."""
        cpus = sorted({cpu for _, cpu in self.target.placements})
        out: dict[int, list[Reading]] = {cpu: [] for cpu in cpus}
        for c, per in zip(self.counters, self._read_all(), strict=True):
            by_cpu = dict(zip(c.cpus, per, strict=False))
            for cpu in cpus:
                out[cpu].append(by_cpu.get(cpu, per[0]))
        return out

    def _read_all(self) -> list[list[Reading]]:
        """Per counter, one Reading per fd (one zero Reading when it has none)."""
        out = []
        for c in self.counters:
            per = []
            for fd in c.fds:
                v, e, r = struct.unpack("<QQQ", os.read(fd, 24))
                per.append(Reading(c.event, v, e, r, True, ""))
            out.append(per or [Reading(c.event, 0, 0, 0, not c.reason, c.reason)])
        return out

    def close(self) -> None:
        for c in self.counters:
            for fd in c.fds:
                os.close(fd)
            c.fds.clear()
        self._leaders.clear()
