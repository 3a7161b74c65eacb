"""In-kernel filter settings and their encoding into `struct rs_filter`."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BadInput
from .numbers import parse_int

if TYPE_CHECKING:
    from .btf import Btf

__all__ = ["Filter", "parse_cgroup", "parse_pid"]

ANY_UID = 0xFFFFFFFF
PID_MAX = 0x3FFFFFFF  # FUTEX_TID_MASK: no pid is larger (PID_MAX_LIMIT is 4M)


@dataclass(frozen=True)
class Filter:
    """What the kernel side lets through. None means "any"."""

    pid: int | None = None  # tgid
    follow: bool = False  # pid is the root of a followed tree (trace -- CMD)
    comm: str | None = None
    uid: int | None = None
    cgroup_id: int | None = None
    exclude_pid: int | None = None  # the tracer itself, when tracing system-wide

    def with_pid(self, pid: int, follow: bool) -> Filter:
        return replace(self, pid=pid, follow=follow)

    def encode(self, btf: Btf, type_mask: int) -> bytes:
        # Imported here: the parse_* helpers below serve `stat` and the
        # HTTP layer, which should not pay numpy's import to parse a pid.
        import numpy as np

        from .events.layout import struct_dtype

        rec = np.zeros(1, struct_dtype(btf, "rs_filter"))
        rec["tgid"] = self.pid or 0
        rec["follow"] = int(self.follow)
        rec["uid"] = ANY_UID if self.uid is None else self.uid
        rec["cgroup_id"] = self.cgroup_id or 0
        if self.comm is not None:
            rec["comm_set"] = 1
            rec["comm"] = comm_bytes(self.comm)[:15]
        rec["type_mask"] = type_mask
        rec["exclude_tgid"] = self.exclude_pid or 0
        return rec.tobytes()


def parse_pid(text: str | int) -> int:
    pid = parse_int(text, "pid")
    if pid <= 0 or pid > PID_MAX:
        raise BadInput(f"bad pid {text!r}: out of range")
    if not Path(f"/proc/{pid}").exists():
        raise BadInput(f"bad pid {pid}: no such process")
    return pid


def parse_uid(text: str | int) -> int:
    try:
        uid = parse_int(text, "uid")
    except BadInput:
        import pwd

        try:
            return pwd.getpwnam(str(text)).pw_uid
        except (KeyError, ValueError, UnicodeError):
            raise BadInput(f"bad uid {text!r}: no such user") from None
    if not 0 <= uid < ANY_UID:
        raise BadInput(f"bad uid {text!r}: out of range")
    return uid


def parse_cgroup(text: str | int) -> int:
    """A cgroup id, or a cgroup v2 directory (its inode number is the id)."""
    if isinstance(text, int) or (str(text).isascii() and str(text).isdigit()):
        return parse_int(text, "cgroup", 1)
    path = Path(text)
    if not path.is_absolute():
        path = Path("/sys/fs/cgroup") / path
    try:
        return os.stat(path).st_ino
    except OSError:
        raise BadInput(f"bad cgroup {text!r}: no such cgroup directory") from None


def comm_bytes(text: str) -> bytes:
    """The kernel's bytes for a comm. Command-line text that was not UTF-8
    arrives with surrogate escapes: they give the original bytes back."""
    return text.encode("utf-8", "surrogateescape")


def parse_comm(text: str) -> str:
    if not text or len(comm_bytes(text)) > 15:
        raise BadInput(f"bad comm {text!r}: must be 1 to 15 bytes (the kernel truncates comm to 15)")
    return text
