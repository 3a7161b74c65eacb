"""What each process has mapped and what each thread is called, replayed
from the side-band records of the perf ring in time order: MMAP2 adds a
mapping, an exec (COMM with the exec flag) starts a fresh address space,
a fork copies the parent's (a child that does not exec runs the parent's
code, and no MMAP2 record says so). Not thread-safe."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from ..symbols.maps import read_maps
from ..transport.perfrecords import Comm, Mmap, Task

__all__ = ["Region", "TaskMaps", "proc_comm"]


@dataclass(frozen=True, slots=True)
class Region:
    start: int
    end: int
    pgoff: int
    path: str
    build_id: str | None


class _Space:
    """One address space: regions sorted by start, never overlapping."""

    def __init__(self, regions: list[Region] | None = None) -> None:
        self.regions = list(regions or [])
        self.starts = [r.start for r in self.regions]

    def add(self, r: Region) -> None:
        # A new mapping replaces whatever it overlaps (MAP_FIXED, re-mmap).
        keep = []
        for o in self.regions:
            if o.end <= r.start or o.start >= r.end:
                keep.append(o)
                continue
            if o.start < r.start:
                keep.append(Region(o.start, r.start, o.pgoff, o.path, o.build_id))
            if o.end > r.end:
                keep.append(Region(r.end, o.end, o.pgoff + (r.end - o.start), o.path, o.build_id))
        keep.append(r)
        keep.sort(key=lambda x: x.start)
        self.regions, self.starts = keep, [x.start for x in keep]

    def find(self, addr: int) -> Region | None:
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0 and addr < self.regions[i].end:
            return self.regions[i]
        return None


class TaskMaps:
    def __init__(self) -> None:
        self._spaces: dict[int, _Space] = {}
        self.comms: dict[int, str] = {}  # tid -> comm

    def seed(self, pid: int) -> None:
        """Start from /proc/PID/maps: a process running before recording
        began mapped its files before the stream could say so."""
        space = self._spaces.setdefault(pid, _Space())
        for m in read_maps(pid):
            space.add(Region(m.start, m.end, m.pgoff, m.path, None))
        if pid not in self.comms and (name := proc_comm(pid)):
            self.comms[pid] = name

    def mmap(self, r: Mmap) -> None:
        region = Region(r.start, r.start + r.length, r.pgoff, r.path, r.build_id)
        self._spaces.setdefault(r.pid, _Space()).add(region)

    def name(self, pid: int, tid: int) -> str:
        """The comm of a sampled task: from the stream's COMM records, or,
        for a task that ran before recording began (no COMM record), read
        from /proc at first sight; the idle task (pid 0) is `swapper`, as
        in perf. Its pid only when it is gone before being seen."""
        known = self.comms.get(tid) or self.comms.get(pid)
        if known is not None:
            return known
        name = "swapper" if pid == 0 else proc_comm(tid) or proc_comm(pid) or str(pid)
        self.comms[tid] = name
        return name

    def comm(self, r: Comm) -> None:
        self.comms[r.tid] = r.comm
        if r.exec and r.pid == r.tid:
            self._spaces[r.pid] = _Space()  # the MMAP2 records of the new image follow

    def task(self, r: Task) -> None:
        if not r.fork:
            return  # keep an exited task's maps: its last samples may sort after its EXIT
        if r.ptid in self.comms:
            self.comms[r.tid] = self.comms[r.ptid]
        if r.pid != r.ppid and r.ppid in self._spaces:
            self._spaces[r.pid] = _Space(self._spaces[r.ppid].regions)

    def find(self, pid: int, addr: int) -> Region | None:
        space = self._spaces.get(pid)
        return space.find(addr) if space is not None else None


def proc_comm(pid: int) -> str | None:
    """/proc/PID/comm, None if the task is gone."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip() or None
    except OSError:
        return None
