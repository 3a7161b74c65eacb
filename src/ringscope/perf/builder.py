"""Building a Profile row by row: dsos, frames, stacks and comms are
interned (each stored once, referenced by index), samples appended as
rows. Used by the per-sample recorder (assemble.py) and by the converter
of aggregated data (legacy.py). Not thread-safe."""

from __future__ import annotations

from typing import Any

from ..symbols.kallsyms import Kallsyms
from .profile import Dso, FrameRef, Profile, SampleTable

__all__ = ["KERNEL", "ProfileBuilder"]

KERNEL = Dso("[kernel.kallsyms]", None, True)


class ProfileBuilder:
    def __init__(self) -> None:
        self._dsos: dict[Dso, int] = {}
        self._frames: dict[FrameRef, int] = {}
        self._stacks: dict[tuple[int, ...], int] = {}
        self._comms: dict[str, int] = {}
        self.rows: list[tuple[int, ...]] = []

    def dso(self, d: Dso) -> int:
        return self._dsos.setdefault(d, len(self._dsos))

    def frame(self, f: FrameRef) -> int:
        return self._frames.setdefault(f, len(self._frames))

    def kernel_frame(self, addr: int, ret: bool) -> int:
        return self.frame(FrameRef(addr, self.dso(KERNEL), addr, ret))

    def stack(self, frames: tuple[int, ...]) -> int:
        return self._stacks.setdefault(frames, len(self._stacks))

    def comm(self, name: str) -> int:
        return self._comms.setdefault(name, len(self._comms))

    def add(
        self, time: int, cpu: int, pid: int, tid: int, period: int, stack: int, comm: int, count: int = 1
    ) -> None:
        self.rows.append((time, cpu, pid, tid, period, stack, comm, count))

    def build(self, meta: dict[str, Any], stats: dict[str, int], ksyms: Kallsyms | None = None) -> Profile:
        """The Profile; kernel frames are named now from `ksyms` (kernel
        addresses move with every boot under KASLR)."""
        frames = list(self._frames)
        knames: dict[int, str] = {}
        if ksyms is not None:
            kid = self._dsos.get(KERNEL, -2)
            for i, f in enumerate(frames):
                if f.dso == kid:
                    name = ksyms.lookup(f.addr - 1 if f.ret else f.addr)
                    if name:
                        knames[i] = name
        return Profile(
            meta=meta, stats=stats, dsos=list(self._dsos), frames=frames, stacks=list(self._stacks),
            comms=list(self._comms), samples=SampleTable.from_rows(self.rows), knames=knames,
        )  # fmt: skip
