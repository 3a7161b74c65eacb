"""The unwind table of one ELF file: its CFI rows (cfi.py) as sorted
arrays plus its PT_LOAD segments (file offset -> vaddr), built once per
build id and cached on disk (cache.py), so later records and reports load
a small array file instead of parsing `.eh_frame` again.

`.eh_frame` is read from the file itself; `.debug_frame` from the file or
its debug file found by build id fills the addresses `.eh_frame` leaves
uncovered (code built with -fno-asynchronous-unwind-tables)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from .cache import cache_path, load_arrays, save_arrays
from .cfi import CFA_NONE, Row, parse_cfi
from .elf import debug_file

__all__ = ["UnwindTable", "unwind_table"]


class UnwindTable:
    """Immutable after construction, apart from a lookup memo. The arrays
    stay numpy: turning libc's and python's 100k rows into Python lists
    took 3 s, far more than the lookups a recording makes (a hot loop
    returns to the same few pcs: memoised)."""

    def __init__(self, rows: np.ndarray, segments: np.ndarray) -> None:
        self.rows = rows  # (n, 5) int64: pc, cfa kind, cfa offset, ra offset, bp offset
        self.segments = segments  # (m, 3) int64: p_offset, p_filesz, p_vaddr
        self._pcs = np.ascontiguousarray(rows[:, 0])
        self._segs: list[tuple[int, int, int]] = [(int(o), int(n), int(v)) for o, n, v in segments.tolist()]
        self._memo: dict[int, tuple[int, int, int, int] | None] = {}

    def __len__(self) -> int:
        return len(self._pcs)

    def vaddr(self, offset: int) -> int | None:
        for off, size, vaddr in self._segs:
            if off <= offset < off + size:
                return offset - off + vaddr
        return None

    def find(self, vaddr: int) -> tuple[int, int, int, int] | None:
        """(cfa kind, cfa offset, ra offset, bp offset) of the row covering `vaddr`."""
        if vaddr in self._memo:
            return self._memo[vaddr]
        i = int(np.searchsorted(self._pcs, vaddr, side="right")) - 1
        row = None
        if i >= 0:
            k, c, r, b = self.rows[i, 1:].tolist()
            row = (k, c, r, b)
        self._memo[vaddr] = row
        return row


def _sections(path: str) -> tuple[list[tuple[bytes, int, bool]], np.ndarray]:
    secs: list[tuple[bytes, int, bool]] = []
    with open(path, "rb") as f:
        elf = ELFFile(f)
        segs = np.array(
            [
                (s["p_offset"], s["p_filesz"], s["p_vaddr"])
                for s in elf.iter_segments()
                if s["p_type"] == "PT_LOAD"
            ],
            dtype=np.int64,
        ).reshape(-1, 3)
        for name, eh in ((".eh_frame", True), (".debug_frame", False)):
            sec = elf.get_section_by_name(name)
            if sec is not None and sec["sh_type"] != "SHT_NOBITS":
                secs.append((sec.data(), sec["sh_addr"], eh))
    return secs, segs


def _merge(primary: list[Row], extra: list[Row]) -> list[Row]:
    """`extra` rows only where `primary` has no FDE."""
    if not primary:
        return extra
    pcs = [r.pc for r in primary]
    import bisect

    keep = []
    for r in extra:
        i = bisect.bisect_right(pcs, r.pc) - 1
        if i < 0 or primary[i].cfa == CFA_NONE:
            keep.append(r)
    return sorted(primary + keep, key=lambda x: (x.pc, x.cfa != CFA_NONE))


def _build(path: str, build_id: str | None) -> tuple[np.ndarray, np.ndarray]:
    secs, segs = _sections(path)
    rows: list[Row] = []
    for data, addr, eh in secs:
        rows = _merge(rows, parse_cfi(data, addr, eh)) if rows else parse_cfi(data, addr, eh)
    dbg = debug_file(build_id)
    if dbg is not None:
        try:
            dsecs, _ = _sections(str(dbg))
            for data, addr, eh in dsecs:
                if not eh:
                    rows = _merge(rows, parse_cfi(data, addr, eh))
        except (OSError, ELFError, ValueError):
            pass
    arr = np.array([(r.pc, r.cfa, r.cfa_off, r.ra_off, r.bp_off) for r in rows], dtype=np.int64).reshape(
        -1, 5
    )
    return arr, segs


@lru_cache(maxsize=128)
def unwind_table(path: str, build_id: str | None) -> UnwindTable | None:
    """The table of `path` (None: unreadable or not ELF), from the cache
    when this build id was seen before."""
    key = cache_path("unwind", build_id, path)
    cached = load_arrays(key)
    if cached is not None:
        return UnwindTable(cached["rows"], cached["segments"])
    try:
        rows, segs = _build(path, build_id)
    except (OSError, ELFError, ValueError):
        return None
    save_arrays(key, rows=rows, segments=segs)
    return UnwindTable(rows, segs)
