"""Symbolize the frames of a profile. Kernel names were resolved at record
time (kallsyms changes with every boot under KASLR); user names here, from
the recorded memory maps and the files they name, checked by build id."""

from __future__ import annotations

import bisect
import os
from collections.abc import Mapping as TMapping
from dataclasses import dataclass

from .elf import load_cached
from .maps import Mapping

__all__ = ["KERNEL_DSO", "UNKNOWN", "Frame", "Symbolizer"]

UNKNOWN = "[unknown]"
KERNEL_DSO = "[kernel.kallsyms]"


@dataclass(frozen=True)
class Frame:
    name: str
    dso: str
    kernel: bool


class Symbolizer:
    """Resolves user addresses of one profile. Caches per file; not
    thread-safe."""

    def __init__(self, maps: TMapping[int, list[Mapping]], build_ids: TMapping[str, str | None]) -> None:
        self._maps = {pid: sorted(ms, key=lambda m: m.start) for pid, ms in maps.items()}
        self._starts = {pid: [m.start for m in ms] for pid, ms in self._maps.items()}
        self._build_ids = build_ids
        self._cache: dict[tuple[int, int], Frame] = {}

    def _mapping(self, pid: int, addr: int) -> Mapping | None:
        starts = self._starts.get(pid)
        if not starts:
            return None
        i = bisect.bisect_right(starts, addr) - 1
        m = self._maps[pid][i] if i >= 0 else None
        return m if m is not None and addr < m.end else None

    def user(self, pid: int, addr: int) -> Frame:
        key = (pid, addr)
        if key not in self._cache:
            self._cache[key] = self._resolve(pid, addr)
        return self._cache[key]

    def _resolve(self, pid: int, addr: int) -> Frame:
        m = self._mapping(pid, addr)
        if m is None:
            return Frame(UNKNOWN, UNKNOWN, False)
        dso = os.path.basename(m.path) if m.path.startswith("/") else m.path
        if not m.path.startswith("/"):
            return Frame(UNKNOWN, dso, False)
        syms = load_cached(m.path)
        recorded = self._build_ids.get(m.path)
        if syms is None or (recorded and syms.build_id and recorded != syms.build_id):
            return Frame(UNKNOWN, dso, False)  # gone, or rebuilt since the recording
        vaddr = syms.vaddr(m.file_offset(addr))
        name = syms.lookup(vaddr) if vaddr is not None else None
        return Frame(name or UNKNOWN, dso, False)
