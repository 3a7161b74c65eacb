"""Shared by the function probes (uprobes, uretprobes, USDT, kprobes): finding
the binary a spec names, the file offset of a function or address in it,
and the layout of their common record, struct rs_uprobe. The C side's
counterpart is bpf/include/func_probe.bpf.h.

BINARY may be a path, a command on $PATH, or a library name (`libc`,
`libm.so.6`) found through the ld.so cache. A function is found in the ELF
symbol tables (.symtab, else .dynsym) and turned into the file offset the
kernel wants: st_value is a virtual address, so it is mapped through the
PT_LOAD segment that contains it, which is right for executables, PIE
executables and shared libraries alike.
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


def _symbol_offset(elf: ELFFile, path: Path, func: str) -> int:
    tables = (elf.get_section_by_name(n) for n in (".symtab", ".dynsym"))
    sections = [s for s in tables if isinstance(s, SymbolTableSection)]
    for sec in sections:
        for sym in sec.get_symbol_by_name(func) or ():
            kind = sym["st_info"]["type"]
            if kind == "STT_GNU_IFUNC":
                raise BadInput(f"{func} in {path} is an IFUNC resolver; probe the implementation it picks")
            if kind == "STT_FUNC" and sym["st_value"]:
                return file_offset(elf, path, sym["st_value"])
    if elf.get_section_by_name(".symtab") is None:
        raise BadInput(f"no function {func!r} in {path} (stripped binary: no .symtab, not in .dynsym)")
    raise BadInput(f"no function {func!r} in {path}")


def functions(path: Path) -> list[str]:
    """Every function a uprobe can name in ELF `path` (.symtab and .dynsym), sorted."""
    try:
        with path.open("rb") as fh:
            elf = ELFFile(fh)
            tables = (elf.get_section_by_name(n) for n in (".symtab", ".dynsym"))
            return sorted({
                sym.name for sec in tables if isinstance(sec, SymbolTableSection) for sym in sec.iter_symbols()
                if sym["st_info"]["type"] == "STT_FUNC" and sym["st_value"] and sym.name
            })  # fmt: skip
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
