"""Writing a command's result to -o FILE or stdout, with write errors
(a full disk, /dev/full) turned into one line and exit 1 instead of a
silent exit 0: the data is flushed here, where the error can be seen."""

from __future__ import annotations

import sys

from ..errors import RingscopeError

__all__ = ["write_output"]


def write_output(data: str | bytes, path: str | None) -> None:
    raw = data.encode() if isinstance(data, str) else data
    where = path or "stdout"
    try:
        if path:
            with open(path, "wb") as f:
                f.write(raw)
                f.flush()
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(raw)
            sys.stdout.buffer.flush()
    except BrokenPipeError:
        raise
    except OSError as e:
        raise RingscopeError(f"cannot write {where}: {e.strerror or e}") from None
