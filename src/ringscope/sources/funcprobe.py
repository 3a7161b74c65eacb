"""Shared by the function probes (uprobes, uretprobes, USDT, kprobes): finding
the binary a spec names, the file offset of a function or address in it,
and the layout of their common record, struct rs_uprobe. The C side's
counterpart is bpf/include/func_probe.bpf.h.

BINARY may be a path, a command on $PATH, or a library name (`libc`,
`libm.so.6`) found through the ld.so cache. A function is found in the ELF
symbol tables (.symtab, else .dynsym, else the .symtab of the debug file
found by build id: symbols.elf.debug_file, the one the symbolizer reads)
and turned into the file offset the kernel wants: st_value is a virtual
address, so it is mapped through the binary's PT_LOAD segment that
contains it, which is right for executables, PIE executables and shared
libraries alike.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from ..btf import Btf
from ..errors import BadInput
from ..events.layout import EventLayout, header_fields
from ..events.spec import Columns, EventSpec, IntLists, Row, array
from ..symbols.elf import debug_file, elf_build_id

__all__ = [
    "file_offset",
    "find_binary",
    "probe_finish",
    "probe_finish_columns",
    "probe_layout",
    "symbol_offset",
]


@cache
def _ld_cache() -> dict[str, str]:
    try:
        # /sbin is often not on a user's PATH, where Debian keeps ldconfig.
        exe = shutil.which("ldconfig") or shutil.which("ldconfig", path="/sbin:/usr/sbin") or "ldconfig"
        out = subprocess.run([exe, "-p"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return {}
    libs: dict[str, str] = {}
    for line in out.splitlines()[1:]:
        name, sep, path = line.strip().partition(" => ")
        if sep and ("x86-64" in name or "(libc6)" in name):
            libs.setdefault(name.split()[0], path.strip())
    return libs


def find_binary(name: str) -> Path:
    """The file BINARY names: a path, a command on $PATH, or a library."""
    if "/" in name:
        path = Path(name)
        if not path.is_file():
            raise BadInput(f"no such binary {name!r}")
        return path.resolve()
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path).resolve()
    libs = _ld_cache()
    stem = name if name.startswith("lib") else f"lib{name}"
    for soname, lib in sorted(libs.items()):
        if soname in (name, stem) or soname.startswith(f"{stem}.so"):
            return Path(lib).resolve()
    raise BadInput(f"no such binary or library {name!r} (not a path, not on $PATH, not in the ld.so cache)")


def symbol_offset(path: Path, func: str) -> int:
    """The file offset of function `func` in ELF `path`, for a uprobe."""
    try:
        with path.open("rb") as fh:
            return _symbol_offset(ELFFile(fh), path, func)
    except ELFError as e:
        raise BadInput(f"{path}: not an ELF file ({e})") from None
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}") from None


def _tables(elf: ELFFile) -> list[SymbolTableSection]:
    # A debug file's .dynsym is SHT_NOBITS: a header with no entries behind it.
    tables = (elf.get_section_by_name(n) for n in (".symtab", ".dynsym"))
    return [s for s in tables if isinstance(s, SymbolTableSection) and s["sh_type"] != "SHT_NOBITS"]


def _func_vaddr(elf: ELFFile, path: Path, func: str) -> int | None:
    for sec in _tables(elf):
        for sym in sec.get_symbol_by_name(func) or ():
            kind = sym["st_info"]["type"]
            if kind == "STT_GNU_IFUNC":
                raise BadInput(f"{func} in {path} is an IFUNC resolver; probe the implementation it picks")
            if kind == "STT_FUNC" and sym["st_value"]:
                return int(sym["st_value"])
    return None


def _symbol_offset(elf: ELFFile, path: Path, func: str) -> int:
    vaddr = _func_vaddr(elf, path, func)
    dbg = debug_file(elf_build_id(elf))
    if vaddr is None and dbg is not None:
        # Static functions of a stripped library are only in its debug
        # file's .symtab (Debian's -dbg/-dbgsym packages), as bpftrace finds them.
        with dbg.open("rb") as fh:
            vaddr = _func_vaddr(ELFFile(fh), path, func)
    if vaddr is not None:
        # The binary's own segments: a debug file's program headers keep
        # the vaddrs but not the file offsets of the code.
        return file_offset(elf, path, vaddr)
    if dbg is not None:
        raise BadInput(f"no function {func!r} in {path} (nor in its debug file {dbg})")
    if elf.get_section_by_name(".symtab") is None:
        raise BadInput(
            f"no function {func!r} in {path} (stripped binary: no .symtab, not in .dynsym, no debug file)"
        )
    raise BadInput(f"no function {func!r} in {path}")


def _function_names(elf: ELFFile) -> set[str]:
    return {
        sym.name for sec in _tables(elf) for sym in sec.iter_symbols()
        if sym["st_info"]["type"] == "STT_FUNC" and sym["st_value"] and sym.name
    }  # fmt: skip


def functions(path: Path) -> list[str]:
    """Every function a uprobe can name in ELF `path` (.symtab and .dynsym,
    and its debug file's .symtab), sorted."""
    try:
        with path.open("rb") as fh:
            elf = ELFFile(fh)
            names = _function_names(elf)
            dbg = debug_file(elf_build_id(elf))
        if dbg is not None:
            with dbg.open("rb") as fh:
                names |= _function_names(ELFFile(fh))
        return sorted(names)
    except ELFError as e:
        raise BadInput(f"{path}: not an ELF file ({e})") from None
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}") from None


def file_offset(elf: ELFFile, path: Path, vaddr: int) -> int:
    for seg in elf.iter_segments():
        h = seg.header
        if h["p_type"] == "PT_LOAD" and h["p_vaddr"] <= vaddr < h["p_vaddr"] + h["p_memsz"]:
            return int(vaddr - h["p_vaddr"] + h["p_offset"])
    raise BadInput(f"{path}: address {vaddr:#x} is in no loadable segment")


def probe_layout(btf: Btf, spec: EventSpec, code: int, retprobe: bool) -> EventLayout:
    """Layout of struct rs_uprobe records (shared with kprobes)."""
    st = btf.struct_layout(spec.struct)
    fields = header_fields(btf, spec.struct)
    names = ("args", "ret", "latency_ns") if retprobe else ("args",)
    fields += [(f.name, ("<u8", (f.nelems,)) if f.nelems else "<i8" if f.signed else "<u8", f.offset)
               for f in st.fields if f.name in names]  # fmt: skip
    return EventLayout(spec.name, code, spec.struct, st.size, tuple(fields))


def probe_finish(rows: list[Row]) -> None:
    """`args` arrive as the raw u64 array: make them a list of ints."""
    for r in rows:
        raw = r["args"]
        if isinstance(raw, bytes):
            r["args"] = [int.from_bytes(raw[i : i + 8], "little") for i in range(0, len(raw), 8)]


def probe_finish_columns(cols: Columns) -> None:
    """probe_finish on whole columns."""
    cols["args"] = IntLists(array(cols, "args"))
