"""Where the built BPF objects live: inside the package, so an installed
ringscope needs no compiler (the wheel's build compiles them, by the same
rule as `make bpf`: bpf/bpfbuild.py). RINGSCOPE_BPF_DIR points elsewhere,
to try objects built from modified sources without reinstalling.

The build leaves a record beside the objects (build.json): per object its
build id and what it was built with, which `ringscope --version` shows."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .btf import Btf
from .errors import LoadError

__all__ = ["HOLD", "OBJ_DIR", "BuiltObject", "built_objects", "object_btf", "object_dir", "object_path"]

OBJ_DIR = Path(__file__).parent / "_bpf"
RECORD = "build.json"  # written by bpf/bpfbuild.py
SYSCALLS = "syscalls.json"  # likewise: the target's syscall numbers
HOLD = "hold"  # likewise, bpf/hold.c: the command launcher (command.py)


def object_dir() -> Path:
    return Path(os.environ.get("RINGSCOPE_BPF_DIR") or OBJ_DIR)


def object_path(stem: str) -> Path:
    path = object_dir() / f"{stem}.bpf.o"
    if not path.exists():
        raise LoadError(f"{path.name} is not built (run `make bpf`)")
    return path


def object_btf(stem: str) -> Btf:
    """The BTF of bpf/<stem>.bpf.o (parsed once: Btf.from_elf caches)."""
    return Btf.from_elf(object_path(stem))


@dataclass(frozen=True)
class BuiltObject:
    """One object as found on disk, and what its build recorded about it
    (None when the record does not describe these bytes: no record, or the
    file was replaced since)."""

    name: str
    build_id: str  # SHA-1 of the file, the id bpfbuild.py records
    clang: str | None
    vmlinux: str | None


def _record(directory: Path) -> tuple[str | None, dict[str, dict[str, object]]]:
    try:
        data = json.loads((directory / RECORD).read_text())
        return str(data["arch"]), dict(data["objects"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, {}


def built_objects() -> tuple[str | None, list[BuiltObject]]:
    """The architecture the objects were built for (None: unrecorded) and
    every object in object_dir()."""
    arch, entries = _record(object_dir())
    out = []
    for path in sorted(object_dir().glob("*.bpf.o")):
        build_id = hashlib.sha1(path.read_bytes()).hexdigest()
        entry = entries.get(path.name, {})
        if entry.get("build_id") != build_id:
            entry = {}
        clang, vmlinux = entry.get("clang"), entry.get("vmlinux")
        out.append(BuiltObject(path.name, build_id, None if clang is None else str(clang),
                               None if vmlinux is None else str(vmlinux)))  # fmt: skip
    return arch, out
