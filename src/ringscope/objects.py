"""Where the built BPF objects live: inside the package, so an installed
ringscope needs no compiler."""

from __future__ import annotations

from pathlib import Path

from .errors import LoadError

OBJ_DIR = Path(__file__).parent / "_bpf"


def object_path(stem: str) -> Path:
    path = OBJ_DIR / f"{stem}.bpf.o"
    if not path.exists():
        raise LoadError(f"{path.name} is not built (run `make bpf`)")
    return path
