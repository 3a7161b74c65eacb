"""Addresses -> names: kernel symbols from /proc/kallsyms, user symbols from
the ELF symtab/dynsym of each mapped file (or its debug file by build id),
DWARF CFI unwind tables (cfi.py, unwind_table.py) and line tables
(lines.py), the last two cached on disk per build id."""

from .elf import ElfSymbols, build_id
from .kallsyms import Kallsyms
from .maps import Mapping, read_maps
from .resolver import UNKNOWN, DsoSymbols, Frame

__all__ = ["UNKNOWN", "DsoSymbols", "ElfSymbols", "Frame", "Kallsyms", "Mapping", "build_id", "read_maps"]
