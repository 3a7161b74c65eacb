"""ELF function symbols and build ids, via pyelftools.

A sampled user address is turned into a file offset with the process's
mapping (start, pgoff); the PT_LOAD segment holding that offset turns it
into the link-time virtual address the symbol table speaks. That one rule
is right for PIE executables, shared libraries and fixed-address binaries.
"""

from __future__ import annotations

import bisect
import struct
from array import array
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import NoteSection, SymbolTableSection

__all__ = ["ElfSymbols", "build_id", "debug_file", "elf_build_id", "load_by_build_id", "load_cached"]

DEBUG_ROOT = Path("/usr/lib/debug/.build-id")
_STT_FUNC = ("STT_FUNC", "STT_GNU_IFUNC")


def elf_build_id(elf: ELFFile) -> str | None:
    """The GNU build id (hex) of an open ELF file, or None."""
    for section in elf.iter_sections():
        if not isinstance(section, NoteSection):
            continue
        for note in section.iter_notes():
            if note["n_type"] == "NT_GNU_BUILD_ID":
                return str(note["n_desc"])
    return None


def debug_file(bid: str | None) -> Path | None:
    """The separate debug file of a build id (Debian's -dbgsym packages), if installed."""
    if not bid or len(bid) < 3:
        return None
    path = DEBUG_ROOT / bid[:2] / f"{bid[2:]}.debug"
    return path if path.exists() else None


def build_id(path: str | Path) -> str | None:
    """The GNU build id (hex) of an ELF file, or None."""
    try:
        with open(path, "rb") as f:
            return elf_build_id(ELFFile(f))
    except (OSError, ELFError, ValueError):
        return None


_FUNC_TYPES = (2, 10)  # STT_FUNC, STT_GNU_IFUNC
_SYM64 = struct.Struct("<IBBHQQ")  # Elf64_Sym, fixed by the ELF specification


def _functions64(sec: SymbolTableSection) -> list[tuple[int, int, str]]:
    # Elf64_Sym unpacked in bulk: pyelftools takes ~0.1 ms per symbol,
    # seconds for a large library; this ~0.6 us (35k symbols of libLLVM in
    # 26 ms, less than importing numpy would take).
    strtab, data = sec.stringtable.data(), sec.data()
    data = data[: len(data) - len(data) % _SYM64.size]  # a truncated file's last partial entry
    out = []
    for name, info, _other, _shndx, value, size in _SYM64.iter_unpack(data):
        if (info & 0xF) in _FUNC_TYPES and value and name:
            out.append((value, size, strtab[name : strtab.find(b"\0", name)].decode(errors="replace")))
    return out


@dataclass(frozen=True)
class _Segment:
    offset: int
    filesz: int
    vaddr: int


class ElfSymbols:
    """Function symbols of one ELF file (symtab, else dynsym; a separate
    debug file found by build id is preferred). Immutable once loaded."""

    def __init__(
        self, path: str, build: str | None, segments: list[_Segment], syms: list[tuple[int, int, str]]
    ):
        self.path = path
        self.build_id = build
        self._segments = segments
        syms.sort()
        self._addrs = [a for a, _, _ in syms]
        self._ends = [a + max(size, 1) for a, size, _ in syms]
        self._names = [n for _, _, n in syms]

    @staticmethod
    def _functions(elf: ELFFile) -> list[tuple[int, int, str]]:
        for name in (".symtab", ".dynsym"):  # symtab is a superset of dynsym
            sec = elf.get_section_by_name(name)
            if not isinstance(sec, SymbolTableSection):
                continue
            if elf.elfclass == 64 and elf.little_endian:
                out = _functions64(sec)
            else:
                out = [
                    (sym["st_value"], sym["st_size"], sym.name)
                    for sym in sec.iter_symbols()
                    if sym["st_info"]["type"] in _STT_FUNC and sym["st_value"] and sym.name
                ]
            if out:
                return out
        return []

    @classmethod
    def load(cls, path: str) -> ElfSymbols | None:
        try:
            with open(path, "rb") as f:
                elf = ELFFile(f)
                bid = elf_build_id(elf)
                segs = [
                    _Segment(s["p_offset"], s["p_filesz"], s["p_vaddr"])
                    for s in elf.iter_segments()
                    if s["p_type"] == "PT_LOAD"
                ]
                syms = cls._functions(elf)
            debug = debug_file(bid)
            if debug is not None:
                with open(debug, "rb") as f:
                    syms = cls._functions(ELFFile(f)) or syms
        except (OSError, ELFError, ValueError):
            return None
        return cls(path, bid, segs, syms)

    def to_bytes(self) -> bytes:
        """The table for the on-disk cache (cache.py): a header of three
        counts, then segments, starts, ends as native u64 and the names
        NUL-separated. Native order is right: the cache never leaves the host."""
        segs = array("Q", [v for g in self._segments for v in (g.offset, g.filesz, g.vaddr)])
        names = "\0".join(self._names).encode()
        head = _CACHE_HEAD.pack(len(self._segments), len(self._addrs), len(names))
        return b"".join((head, segs.tobytes(), array("Q", self._addrs).tobytes(),
                         array("Q", self._ends).tobytes(), names))  # fmt: skip

    @classmethod
    def from_bytes(cls, path: str, build: str | None, data: bytes) -> ElfSymbols | None:
        """A table from to_bytes, or None if `data` is not one (a torn or
        foreign file is rebuilt by the caller)."""
        if len(data) < _CACHE_HEAD.size:
            return None
        nseg, nsym, nnames = _CACHE_HEAD.unpack_from(data)
        words = 3 * nseg + 2 * nsym
        if len(data) != _CACHE_HEAD.size + 8 * words + nnames:
            return None
        u64 = array("Q", data[_CACHE_HEAD.size : _CACHE_HEAD.size + 8 * words]).tolist()
        self = cls.__new__(cls)
        self.path, self.build_id = path, build
        self._segments = [_Segment(*u64[i : i + 3]) for i in range(0, 3 * nseg, 3)]
        self._addrs, self._ends = u64[3 * nseg : 3 * nseg + nsym], u64[3 * nseg + nsym :]
        names = data[_CACHE_HEAD.size + 8 * words :].decode(errors="replace")
        self._names = names.split("\0") if nsym else []
        return self if len(self._names) == nsym else None

    def vaddr(self, file_offset: int) -> int | None:
        for s in self._segments:
            if s.offset <= file_offset < s.offset + s.filesz:
                return file_offset - s.offset + s.vaddr
        return None

    def lookup(self, vaddr: int) -> str | None:
        found = self.lookup_start(vaddr)
        return found[0] if found else None

    def lookup_start(self, vaddr: int) -> tuple[str, int] | None:
        """(name, start address) of the function holding `vaddr`."""
        i = bisect.bisect_right(self._addrs, vaddr) - 1
        # Sized symbols must contain the address; a stripped-size one is
        # taken as extending to the next symbol.
        if i < 0 or (self._ends[i] <= vaddr and self._ends[i] - self._addrs[i] > 1):
            return None
        return self._names[i], self._addrs[i]


_CACHE_HEAD = struct.Struct("=QQQ")


@lru_cache(maxsize=256)
def load_cached(path: str) -> ElfSymbols | None:
    return ElfSymbols.load(path)


@lru_cache(maxsize=256)
def load_by_build_id(path: str, build: str) -> ElfSymbols | None:
    """The symbols of the file with build id `build`, from the disk cache
    when seen before (a large library's symtab takes ~0.2 s to read, most
    of a report), else from `path` if it still has that build id."""
    from .cache import cache_path, load_bytes, save_bytes

    key = cache_path("syms", build, path, suffix=".bin")
    cached = load_bytes(key)
    if cached is not None and (table := ElfSymbols.from_bytes(path, build, cached)) is not None:
        return table
    syms = load_cached(path)
    if syms is not None and syms.build_id == build:
        save_bytes(key, syms.to_bytes())
        return syms
    return None
