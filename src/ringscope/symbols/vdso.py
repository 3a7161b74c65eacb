"""The vDSO as an ELF file: the kernel maps it into every process as
`[vdso]`, with no file behind it, yet it is a complete shared object (a
GNU build id note, .dynsym, .eh_frame). Its image is the same in every
64-bit process on one kernel, so this process's copy stands for the
traced process's: it is read once from /proc/self/mem and saved in the
symbol cache under its build id (cache.py), where the unwinder and a
later `report` find it like any file on disk.

A 32-bit process maps the kernel's other (vdso32) image; the profiler
unwinds x86-64 only, and such a process's vDSO frames would be named
from the 64-bit image, so they are not: a region whose size differs from
ours is left unnamed."""

from __future__ import annotations

import io
import os
from functools import cache
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from .cache import cache_path, save_bytes
from .elf import elf_build_id
from .maps import read_maps

__all__ = ["VDSO", "VdsoImage", "mapped_vdso", "own_vdso", "saved_vdso"]

VDSO = "[vdso]"  # the path /proc/PID/maps and MMAP2 records give it


class VdsoImage:
    """This kernel's vDSO saved as a file. Immutable."""

    def __init__(self, build_id: str, path: Path, size: int) -> None:
        self.build_id, self.path, self.size = build_id, path, size


def _saved_path(build_id: str) -> Path:
    return cache_path("vdso", build_id, VDSO, suffix=".so")


def _read_own() -> bytes | None:
    for m in read_maps(os.getpid()):
        if m.path == VDSO:
            try:
                with open("/proc/self/mem", "rb", buffering=0) as f:
                    f.seek(m.start)
                    return f.read(m.end - m.start)
            except (OSError, OverflowError):
                return None
    return None  # booted with vdso=0, or not Linux


@cache
def own_vdso() -> VdsoImage | None:
    """This process's vDSO, saved in the cache on first call (None: no
    vDSO, unreadable, or without a build id)."""
    image = _read_own()
    if not image:
        return None
    try:
        bid = elf_build_id(ELFFile(io.BytesIO(image)))
    except (ELFError, ValueError):
        return None
    if not bid:
        return None
    path = _saved_path(bid)
    if not path.exists():
        save_bytes(path, image)
    return VdsoImage(bid, path, len(image)) if path.exists() else None


def mapped_vdso(size: int) -> VdsoImage | None:
    """The image of a `[vdso]` region `size` bytes long, if it is ours."""
    own = own_vdso()
    return own if own is not None and own.size == size else None


def saved_vdso(build_id: str | None) -> Path | None:
    """The saved image of the vDSO with `build_id` (recorded on this host,
    perhaps before a reboot into another kernel)."""
    if not build_id:
        return None
    own = own_vdso()  # saves this kernel's, so a report right after a record finds it
    if own is not None and own.build_id == build_id:
        return own.path
    path = _saved_path(build_id)
    return path if path.exists() else None
