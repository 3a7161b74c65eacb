"""The frames of one Profile, named: kernel names from the profile, user
names from the recorded files (symbols/resolver.py), source lines from
their DWARF line tables when asked. Caches per frame and per file; not
thread-safe."""

from __future__ import annotations

from ..symbols.resolver import KERNEL_DSO, UNKNOWN, DsoSymbols, Frame, short_dso
from .profile import Profile

__all__ = ["ProfileSymbols"]


class ProfileSymbols:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._dsos: dict[int, DsoSymbols] = {}
        self._frames: dict[int, Frame] = {}
        self._lines: dict[int, str | None] = {}

    def _dso(self, i: int) -> DsoSymbols:
        if i not in self._dsos:
            d = self.profile.dsos[i]
            self._dsos[i] = DsoSymbols(d.path, d.build_id)
        return self._dsos[i]

    def frame(self, fid: int) -> Frame:
        f = self._frames.get(fid)
        if f is None:
            f = self._frames[fid] = self._resolve(fid)
        return f

    def _resolve(self, fid: int) -> Frame:
        ref = self.profile.frames[fid]
        if ref.dso < 0:
            return Frame(f"0x{ref.addr:x}", UNKNOWN, False, ref.addr)
        d = self.profile.dsos[ref.dso]
        if d.kernel:
            return Frame(self.profile.knames.get(fid, UNKNOWN), KERNEL_DSO, True, ref.addr, -1, KERNEL_DSO)
        name, off = self._dso(ref.dso).symbol(ref.offset, ref.ret)
        return Frame(name, short_dso(d.path), False, ref.addr, off, d.path)

    def srcline(self, fid: int) -> str | None:
        """`file:line` of the frame when its file has a DWARF line table."""
        if fid not in self._lines:
            self._lines[fid] = self._srcline(fid)
        return self._lines[fid]

    def _srcline(self, fid: int) -> str | None:
        ref = self.profile.frames[fid]
        if ref.dso < 0 or self.profile.dsos[ref.dso].kernel:
            return None
        ds = self._dso(ref.dso)
        vaddr = ds.vaddr(ref.offset)
        if vaddr is None:
            return None
        from ..symbols.lines import line_table

        table = line_table(ds.path, ds.build_id)
        return table.lookup(vaddr - 1 if ref.ret else vaddr) if table is not None else None
