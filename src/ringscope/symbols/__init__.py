"""Addresses -> names: kernel symbols from /proc/kallsyms, user symbols from
the ELF symtab/dynsym of each mapped file, with PIE and shared-library load
offsets undone through the process's memory maps."""

from .elf import ElfSymbols, build_id
from .kallsyms import Kallsyms
from .maps import Mapping, read_maps
from .resolver import UNKNOWN, Frame, Symbolizer

__all__ = ["UNKNOWN", "ElfSymbols", "Frame", "Kallsyms", "Mapping", "Symbolizer", "build_id", "read_maps"]
