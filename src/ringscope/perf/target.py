"""What to measure: a running process (-p), threads (-t), every CPU or some
(-a, -C), a cgroup on those CPUs (-G), or a command we start (-- CMD, see
ringscope.command)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..command import Command
from ..errors import BadInput, PermissionDenied
from ..transport.topology import online_cpus

__all__ = ["Command", "Target", "cgroup_dir", "online_cpus", "perf_cgroup_root", "threads_of"]

MOUNTS = Path("/proc/self/mounts")


def threads_of(pid: int) -> list[int]:
    """The thread ids of process `pid` (BadInput when it does not exist)."""
    if pid <= 0:
        raise BadInput(f"bad pid {pid}: must be a positive process id")
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        raise BadInput(f"no such process: {pid}") from None
    except PermissionError:
        raise PermissionDenied(f"cannot inspect process {pid} (needs root)") from None


def perf_cgroup_root(mounts: str | None = None) -> Path | None:
    """Where perf_event cgroups live: a cgroup v1 hierarchy with the
    perf_event controller if one is mounted, else the cgroup v2 one (where
    perf_event is always on). Hybrid systems have both kinds of mount."""
    v2 = None
    for line in (MOUNTS.read_text() if mounts is None else mounts).splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        if fields[2] == "cgroup" and "perf_event" in fields[3].split(","):
            return Path(fields[1])
        if fields[2] == "cgroup2" and v2 is None:
            v2 = Path(fields[1])
    return v2


def cgroup_dir(name: str) -> Path:
    """The directory of cgroup `name` (relative to the perf_event cgroup
    mount, as perf's -G takes it; an absolute path is taken as is)."""
    if not name or "\0" in name:
        raise BadInput(f"bad cgroup {name!r}")
    path = Path(name)
    if not path.is_absolute():
        root = perf_cgroup_root()
        if root is None:
            raise BadInput("-G: no cgroup file system is mounted")
        path = root / name.lstrip("/")
    if ".." in path.parts or not path.is_dir():
        raise BadInput(f"-G {name}: no such cgroup (looked for the directory {path})")
    return path


@dataclass
class Target:
    """Where events are opened: a list of (pid, cpu) placements plus whether
    children are inherited and counting starts at exec. With `cgroup`, the
    pid of each placement is replaced by the cgroup's directory fd
    (PERF_FLAG_PID_CGROUP), so only tasks of that cgroup are counted."""

    label: str  # what perf prints: "'CMD'", "process id 'N'", "'system wide'", "'CPU(s) 0,1'"
    placements: list[tuple[int, int]] = field(default_factory=list)
    inherit: bool = True
    enable_on_exec: bool = False
    pid: int = -1  # the process, when there is one
    cgroup: Path | None = None

    @property
    def per_cpu(self) -> bool:
        """Counting per CPU (-a, -C, -G) rather than per task."""
        return any(pid == -1 for pid, _ in self.placements)

    @classmethod
    def process(cls, pid: int) -> Target:
        # One task-bound event per existing thread; inherit covers threads
        # and children created afterwards.
        return cls(f"process id '{pid}'", [(tid, -1) for tid in threads_of(pid)], pid=pid)

    @classmethod
    def threads(cls, tids: list[int]) -> Target:
        for tid in tids:
            if not os.path.exists(f"/proc/{tid}") and not os.path.exists(f"/proc/self/task/{tid}"):
                raise BadInput(f"no such thread: {tid}")
        label = f"thread id '{','.join(map(str, tids))}'"
        return cls(label, [(tid, -1) for tid in tids], pid=tids[0])

    @classmethod
    def system_wide_on(cls, cpus: list[int] | None = None, cgroup: Path | None = None) -> Target:
        """Every online CPU, or `cpus` (-C): perf labels the latter 'CPU(s) 0,1'."""
        online = online_cpus()
        if cpus is None:
            return cls("'system wide'", [(-1, cpu) for cpu in online], inherit=False, cgroup=cgroup)
        offline = [c for c in cpus if c not in online]
        if offline:
            raise BadInput(f"-C: CPU {offline[0]} is not online (online: {','.join(map(str, online))})")
        label = "'CPU(s) " + ",".join(map(str, cpus)) + "'"
        return cls(label, [(-1, cpu) for cpu in cpus], inherit=False, cgroup=cgroup)

    @classmethod
    def system_wide(cls) -> Target:
        return cls.system_wide_on()

    @classmethod
    def command(cls, cmd: Command) -> Target:
        label = "'" + " ".join(cmd.argv) + "'"
        return cls(label, [(cmd.pid, -1)], enable_on_exec=True, pid=cmd.pid)
