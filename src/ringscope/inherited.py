"""The fds this process was started with (a shell's `3>out.txt`), noted
before anything is opened, so that a command run with `-- CMD` inherits
them in turn, as under perf, and nothing of ringscope's own."""

from __future__ import annotations

import os

__all__ = ["note_inherited_fds", "passed_fds"]

_inherited: tuple[int, ...] = ()


def note_inherited_fds() -> None:
    """Call first thing at startup. Only inheritable fds above 2 (0-2 are
    always passed): what Python and libraries open is close-on-exec."""
    global _inherited
    fds = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if int(name) > 2 and os.get_inheritable(int(name)):
                fds.append(int(name))
        except OSError:
            pass  # the listing's own fd, closed by now
    _inherited = tuple(sorted(fds))


def passed_fds() -> tuple[int, ...]:
    """The inherited fds still open as they came (not closed, and not
    reused for one of ours, which would be close-on-exec)."""
    out = []
    for fd in _inherited:
        try:
            if os.get_inheritable(fd):
                out.append(fd)
        except OSError:
            pass
    return tuple(out)
