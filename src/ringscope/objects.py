"""Where the built BPF objects live: inside the package, so an installed
ringscope needs no compiler. RINGSCOPE_BPF_DIR points elsewhere, to try
objects built from modified sources without reinstalling."""

from __future__ import annotations

import os
from pathlib import Path

from .btf import Btf
from .errors import LoadError

__all__ = ["OBJ_DIR", "object_btf", "object_path"]

OBJ_DIR = Path(__file__).parent / "_bpf"


def object_path(stem: str) -> Path:
    path = Path(os.environ.get("RINGSCOPE_BPF_DIR") or OBJ_DIR) / f"{stem}.bpf.o"
    if not path.exists():
        raise LoadError(f"{path.name} is not built (run `make bpf`)")
    return path


def object_btf(stem: str) -> Btf:
    """The BTF of bpf/<stem>.bpf.o (parsed once: Btf.from_elf caches)."""
    return Btf.from_elf(object_path(stem))
