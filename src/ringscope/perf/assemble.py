"""Records from the perf rings -> a Profile with one row per sample.

The records of all CPUs are put in time order and replayed: side-band
records update the process maps (tasks.py) and each sample's user frames
are placed in the file mapped at that address at that moment, by path,
build id and file offset. fp call chains come from the kernel; with
dwarf the user part is unwound here from the registers and stack copy.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from ..symbols.elf import build_id
from ..symbols.kallsyms import Kallsyms
from ..symbols.vdso import VDSO, mapped_vdso
from ..transport.perfrecords import Comm, Lost, Mmap, Record, Sample, Task
from .builder import ProfileBuilder
from .profile import Dso, FrameRef, Profile
from .tasks import Region, TaskMaps

__all__ = ["Assembler", "assemble", "split_chain"]

_CONTEXT_MAX = (1 << 64) - 4095  # PERF_CONTEXT_* markers are the top 4 KiB of u64
_CONTEXT_KERNEL = (1 << 64) - 128
_CONTEXT_USER = (1 << 64) - 512

# (sample, the process maps) -> user return chain, leaf first
Unwind = Callable[[Sample, TaskMaps], list[int]]


@cache
def _file_build_id(path: str, size: int) -> str | None:
    if path == VDSO:  # no file and no build id in MMAP2: ours stands for it
        image = mapped_vdso(size)
        return image.build_id if image is not None else None
    return build_id(path) if path.startswith("/") else None


def split_chain(chain: tuple[int, ...]) -> tuple[list[int], list[int]]:
    """A raw PERF_SAMPLE_CALLCHAIN -> (kernel frames, user frames), leaf first."""
    kernel: list[int] = []
    user: list[int] = []
    cur = kernel
    for a in chain:
        if a >= _CONTEXT_MAX:
            cur = kernel if a == _CONTEXT_KERNEL else user if a == _CONTEXT_USER else []
            continue
        cur.append(a)
    return kernel, user


class _Placer:
    """User addresses -> interned frames, through the maps at sample time."""

    def __init__(self, b: ProfileBuilder, maps: TaskMaps) -> None:
        self.b, self.maps = b, maps
        self._dso_ids: dict[tuple[str, str | None], int] = {}

    def _dso(self, r: Region) -> int:
        key = (r.path, r.build_id)
        if key not in self._dso_ids:
            bid = r.build_id or _file_build_id(r.path, r.end - r.start)
            self._dso_ids[key] = self.b.dso(Dso(r.path, bid))
        return self._dso_ids[key]

    def frame(self, pid: int, addr: int, ret: bool) -> int:
        r = self.maps.find(pid, addr)
        if r is None:
            return self.b.frame(FrameRef(addr, -1, addr, ret))
        return self.b.frame(FrameRef(addr, self._dso(r), addr - r.start + r.pgoff, ret))


def user_frames(s: Sample, ustack: list[int], place: _Placer) -> list[int]:
    return [place.frame(s.pid, a, i > 0) for i, a in enumerate(ustack)]


def _sample_frames(s: Sample, place: _Placer, unwind: Unwind | None) -> tuple[int, ...]:
    b = place.b
    if not s.callchain and not s.regs and not s.stack:
        # no call graph: the sampled ip alone
        return (place.frame(s.pid, s.ip, False),) if s.user else (b.kernel_frame(s.ip, False),)
    kstack, ustack = split_chain(s.callchain)
    if unwind is not None:
        ustack = unwind(s, place.maps) if s.regs else []
    ids = [b.kernel_frame(a, i > 0) for i, a in enumerate(kstack)]
    ids += user_frames(s, ustack, place)
    return tuple(ids)


class Assembler:
    """Replays batches of records into one growing profile. The process
    maps carry over from batch to batch (ringscope top feeds one batch per
    refresh). Not thread-safe."""

    def __init__(self, seeds: list[int] | None = None, unwind: Unwind | None = None,
                 names: dict[int, str] | None = None) -> None:  # fmt: skip
        self.maps, self.builder = TaskMaps(), ProfileBuilder()
        self.maps.comms.update(names or {})  # comms read when recording began
        for pid in seeds or []:
            self.maps.seed(pid)
        self.place = _Placer(self.builder, self.maps)
        self.unwind = unwind
        self.stats = {"samples": 0, "lost": 0}

    def feed(self, records: list[Record]) -> None:
        """Replay `records` (any order: sorted here by time)."""
        records.sort(key=lambda r: r.time)  # stable: one CPU's ring order is kept on ties
        b, maps = self.builder, self.maps
        for r in records:
            if isinstance(r, Sample):
                stack = b.stack(_sample_frames(r, self.place, self.unwind))
                comm = b.comm(maps.name(r.pid, r.tid))
                b.add(r.time, r.cpu, r.pid, r.tid, r.period, stack, comm)
                self.stats["samples"] += 1
            elif isinstance(r, Mmap):
                maps.mmap(r)
            elif isinstance(r, Comm):
                maps.comm(r)
            elif isinstance(r, Task):
                maps.task(r)
            elif isinstance(r, Lost):
                self.stats["lost"] += r.count

    def profile(self, meta: dict[str, Any], ksyms: Kallsyms | None = None) -> Profile:
        return self.builder.build({**meta, "per_sample": True}, dict(self.stats), ksyms or Kallsyms.load())


def assemble(
    records: list[Record],
    meta: dict[str, Any],
    *,
    seeds: list[int] | None = None,
    unwind: Unwind | None = None,
    names: dict[int, str] | None = None,
) -> Profile:
    """`records` -> a Profile. `seeds`: pids whose /proc maps are read
    first (processes that ran before the recording began); `names`: their
    comms, read when it began (one that exits before the end keeps its name)."""
    asm = Assembler(seeds, unwind, names)
    asm.feed(records)
    return asm.profile(meta)
