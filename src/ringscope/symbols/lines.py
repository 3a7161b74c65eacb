"""Source lines from DWARF `.debug_line`: address -> `file:line`, from the
binary itself or its debug file found by build id. The line programs are
decoded once per file with pyelftools and the resulting table (sorted
addresses, line numbers, file indexes) is cached on disk per build id, so
a second report reads a small array file instead of running them again."""

from __future__ import annotations

import bisect
import json
import os
from functools import lru_cache

import numpy as np
from elftools.common.exceptions import DWARFError, ELFError
from elftools.elf.elffile import ELFFile

from .cache import cache_path, load_arrays, save_arrays
from .elf import debug_file

__all__ = ["LineTable", "line_table"]


class LineTable:
    """Sorted (address, file, line) rows of one file; rows with line 0
    mark the end of a sequence (no line there). Immutable."""

    def __init__(self, addrs: np.ndarray, lines: np.ndarray, files: np.ndarray, names: list[str]) -> None:
        self._addrs = addrs.tolist()
        self._lines = lines.tolist()
        self._files = files.tolist()
        self.names = names

    def lookup(self, vaddr: int) -> str | None:
        i = bisect.bisect_right(self._addrs, vaddr) - 1
        if i < 0 or self._lines[i] == 0:
            return None
        return f"{os.path.basename(self.names[self._files[i]])}:{self._lines[i]}"


def _file_name(prog: object, index: int, version: int) -> str:
    entries = prog["file_entry"]  # type: ignore[index]
    i = index if version >= 5 else index - 1  # DWARF 5 numbers files from 0
    if not 0 <= i < len(entries):
        return "?"
    name = entries[i].name
    return name.decode(errors="replace") if isinstance(name, bytes) else str(name)


def _decode(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]] | None:
    with open(path, "rb") as f:
        elf = ELFFile(f)
        if not elf.has_dwarf_info() or elf.get_section_by_name(".debug_line") is None:
            return None
        dwarf = elf.get_dwarf_info()
        rows: list[tuple[int, int, int]] = []
        names: dict[str, int] = {}
        for cu in dwarf.iter_CUs():
            prog = dwarf.line_program_for_CU(cu)
            if prog is None:
                continue
            version = prog.header["version"]
            for entry in prog.get_entries():
                st = entry.state
                if st is None:
                    continue
                fi = names.setdefault(_file_name(prog, st.file, version), len(names))
                rows.append((st.address, 0 if st.end_sequence else st.line, fi))
    rows.sort(key=lambda r: (r[0], r[1] != 0))  # an end and a start at one address: the start wins
    arr = np.array(rows, dtype=np.uint64).reshape(len(rows), 3)
    return arr[:, 0], arr[:, 1].astype(np.uint32), arr[:, 2].astype(np.uint32), list(names)


@lru_cache(maxsize=64)
def line_table(path: str, build_id: str | None) -> LineTable | None:
    """The line table of `path` (or of its debug file), None without one."""
    key = cache_path("lines", build_id, path)
    cached = load_arrays(key)
    if cached is not None:
        if not len(cached["addrs"]):
            return None
        return LineTable(cached["addrs"], cached["lines"], cached["files"], json.loads(str(cached["names"])))
    found = None
    for candidate in (str(debug_file(build_id) or ""), path):
        if not candidate or not os.path.exists(candidate):
            continue
        try:
            found = _decode(candidate)
        except (OSError, ELFError, DWARFError, ValueError, KeyError, AssertionError):
            found = None
        if found is not None:
            break
    addrs, lines, files, names = found or (
        np.zeros(0, np.uint64),
        np.zeros(0, np.uint32),
        np.zeros(0, np.uint32),
        [],
    )
    save_arrays(key, addrs=addrs, lines=lines, files=files, names=np.array(json.dumps(names)))
    return LineTable(addrs, lines, files, names) if len(addrs) else None
