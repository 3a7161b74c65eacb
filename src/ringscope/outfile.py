"""Writing a whole output file (a profile) so that a failed write never
leaves half a file behind, and never touches anything but the file: a
regular file (or a new one) is written beside itself and renamed over;
anything else (a device like /dev/full, a FIFO, /dev/stdout) is written
in place. Renaming over a device node would replace the node itself with
a regular file (as root, /dev/full became a file that way)."""

from __future__ import annotations

import contextlib
import errno
import os
import stat

__all__ = ["check_writable", "write_file"]


def write_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path`; OSError (with the real errno) if it fails."""
    target = os.path.realpath(path)  # a symlink stays a symlink: write where it points
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None  # a new file (or a missing directory: the write says which)
    if mode is None or stat.S_ISREG(mode):
        tmp = f"{target}.{os.getpid()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except OSError:
            fd = -1  # no room for a temp file beside it (a read-only directory, /proc): in place
        if fd >= 0:
            try:
                _write_all(fd, data)
            except BaseException:
                os.close(fd)
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            os.close(fd)
            os.replace(tmp, target)
            return
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def check_writable(path: str | os.PathLike[str]) -> None:
    """Fail early (OSError, the errno write_file would meet) for a target
    that cannot be written at all: a directory, a missing or read-only
    directory. Checked before a run starts, so a typo costs no recording."""
    target = os.path.realpath(path)
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if os.path.exists(target):
        if not os.access(target, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return
    parent = os.path.dirname(target) or "."
    try:
        parent_mode = os.stat(parent).st_mode  # its own errno: ENOENT, EACCES (a 0700 dir), ...
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(path)) from None
    if not stat.S_ISDIR(parent_mode):
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
    if not os.access(parent, os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
