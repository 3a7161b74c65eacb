"""Names for the frames of a profile. Kernel names were resolved at record
time (kallsyms changes with every boot under KASLR); user frames name a
file (path + build id) and an offset in it, resolved here against that
file's symbols, or its debug file found by build id. A frame that cannot
be named keeps its address (perf's `0x4883`), so distinct unknown code does
not merge into one `[unknown]` row."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .elf import ElfSymbols, debug_file, load_by_build_id, load_cached
from .vdso import VDSO, saved_vdso

__all__ = ["KERNEL_DSO", "UNKNOWN", "DsoSymbols", "Frame", "short_dso"]

UNKNOWN = "[unknown]"
KERNEL_DSO = "[kernel.kallsyms]"


@dataclass(frozen=True)
class Frame:
    name: str
    dso: str  # short name (basename), as perf report prints it
    kernel: bool
    addr: int = 0  # runtime address
    symoff: int = -1  # offset of addr in its symbol, -1 when unnamed
    path: str = ""  # the dso's full path


def short_dso(path: str) -> str:
    return os.path.basename(path) if path.startswith("/") else path


class DsoSymbols:
    """The symbols of one recorded file, if it (or its debug file) is still
    there with the recorded build id. Immutable after construction."""

    def __init__(self, path: str, build_id: str | None) -> None:
        self.path, self.build_id = path, build_id
        self.syms: ElfSymbols | None = None
        if path.startswith("/") and build_id:
            self.syms = load_by_build_id(path, build_id)
            if self.syms is None and (dbg := debug_file(build_id)) is not None:
                self.syms = load_cached(str(dbg))  # rebuilt or gone: its debug file still fits
        elif path.startswith("/"):
            self.syms = load_cached(path)  # nothing recorded to check it against
        elif path == VDSO and (image := saved_vdso(build_id)) is not None and build_id:
            self.syms = load_by_build_id(str(image), build_id)  # saved at record time

    def vaddr(self, offset: int) -> int | None:
        return self.syms.vaddr(offset) if self.syms is not None else None

    def symbol(self, offset: int, ret: bool) -> tuple[str, int]:
        """(name, offset in the symbol) of the instruction at file `offset`;
        return addresses are looked up one byte back (the call itself)."""
        vaddr = self.vaddr(offset)
        if vaddr is None or self.syms is None:
            return f"0x{offset:x}", -1
        found = self.syms.lookup_start(vaddr - 1 if ret else vaddr)
        if found is None:
            return f"0x{vaddr:x}", -1
        name, start = found
        return name, vaddr - start
