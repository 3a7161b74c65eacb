"""DWARF unwinding of user stacks, as `perf record --call-graph dwarf`
does it after the fact: from a sample's user registers (ip, sp, bp) and
its copy of the user stack, step frame by frame with the CFI rows of the
binary each pc lies in (symbols/unwind_table.py): CFA = sp or bp + n, the
return address and the saved bp at CFA + m. Code without frame pointers
(Debian's libc and libpython) unwinds, and a frame we cannot unwind ends
the chain instead of inventing frames (no 128-frame garbage towers).

x86-64 only for now (ringsampler refuses dwarf elsewhere)."""

from __future__ import annotations

import struct

from ..symbols.cfi import BP_SAME, CFA_RBP, CFA_RSP, RA_UNDEFINED
from ..symbols.elf import build_id
from ..symbols.unwind_table import UnwindTable, unwind_table
from ..symbols.vdso import VDSO, mapped_vdso
from ..transport.perfrecords import Sample
from .tasks import Region, TaskMaps

__all__ = ["MAX_DEPTH", "DwarfUnwinder"]

MAX_DEPTH = 127  # perf's default kernel.perf_event_max_stack
_U64 = struct.Struct("<Q")


class DwarfUnwinder:
    """Unwinds samples of one recording. Caches a table per (path, build
    id); not thread-safe."""

    def __init__(self) -> None:
        self._tables: dict[tuple[str, str | None], UnwindTable | None] = {}
        self.stats = {"unwound": 0}

    def _table(self, r: Region) -> UnwindTable | None:
        key = (r.path, r.build_id)
        if key not in self._tables:
            table = None
            if r.path.startswith("/"):
                on_disk = build_id(r.path)
                # The file was replaced since it was mapped: its CFI would lie.
                if not (r.build_id and on_disk and on_disk != r.build_id):
                    table = unwind_table(r.path, r.build_id or on_disk)
            elif r.path == VDSO and (image := mapped_vdso(r.end - r.start)) is not None:
                table = unwind_table(str(image.path), image.build_id)
            self._tables[key] = table
        return self._tables[key]

    def unwind(self, s: Sample, maps: TaskMaps) -> list[int]:
        """The user chain of `s`, leaf first: its ip, then return addresses."""
        bp, sp, ip = s.regs
        stack, base = s.stack, sp
        limit = len(stack) - 8

        def read(addr: int) -> int | None:
            off = addr - base
            return _U64.unpack_from(stack, off)[0] if 0 <= off <= limit else None

        out, pc = [ip], ip
        for depth in range(MAX_DEPTH):
            look = pc if depth == 0 else pc - 1  # a return address may be past the call's function
            region = maps.find(s.pid, look)
            table = self._table(region) if region is not None else None
            if region is None or table is None:
                break
            vaddr = table.vaddr(look - region.start + region.pgoff)
            row = table.find(vaddr) if vaddr is not None else None
            if row is None:
                break
            kind, cfa_off, ra_off, bp_off = row
            if kind == CFA_RSP:
                cfa = sp + cfa_off
            elif kind == CFA_RBP:
                cfa = bp + cfa_off
            else:
                break
            ra = read(cfa + ra_off) if ra_off != RA_UNDEFINED else None
            if not ra or cfa <= sp:
                break  # the outermost frame, off the copied stack, or not moving up
            if bp_off != BP_SAME:
                saved = read(cfa + bp_off)
                bp = saved if saved is not None else bp
            sp, pc = cfa, ra
            out.append(ra)
        self.stats["unwound"] += 1
        return out
