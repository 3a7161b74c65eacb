"""The on-disk cache of derived symbol data (unwind tables, line tables):
$XDG_CACHE_HOME/ringscope/<kind>/<key>, keyed by build id (content
addressed: a rebuilt file has a new id, so no entry goes stale), or for a
file without one by path, size and mtime. Writes are atomic (rename);
an unreadable entry is rebuilt. Safe between processes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["cache_path", "load_arrays", "load_bytes", "save_arrays", "save_bytes"]

VERSION = 1  # bump when what a kind stores changes


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ringscope"


def cache_path(kind: str, build_id: str | None, path: str, suffix: str = ".npz") -> Path:
    if build_id:
        key = build_id
    else:
        try:
            st = os.stat(path)
            ident = f"{path}\0{st.st_size}\0{st.st_mtime_ns}"
        except OSError:
            ident = path
        key = "p-" + hashlib.sha1(ident.encode()).hexdigest()
    return cache_root() / f"{kind}-v{VERSION}" / f"{key}{suffix}"


def _tmp(path: Path) -> Path:
    return path.with_name(f"{path.stem}.{os.getpid()}.tmp{path.suffix}")


# numpy is imported where arrays are stored, not here: `report` reads only
# byte entries, and numpy's import is a third of its start-up.
def load_arrays(path: Path) -> dict[str, np.ndarray] | None:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return None


def save_arrays(path: Path, **arrays: np.ndarray) -> None:
    import numpy as np

    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _tmp(path)
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        tmp.replace(path)


def load_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def save_bytes(path: Path, data: bytes) -> None:
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _tmp(path)
        tmp.write_bytes(data)
        tmp.replace(path)
