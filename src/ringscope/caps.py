"""Linux capabilities of this process: read from its effective set, and dropped.

ringscope asks for what it needs by capability, never by user id: a
non-root user holding CAP_BPF + CAP_PERFMON can trace (Linux >= 5.8 split
them out of CAP_SYS_ADMIN, which still implies both). errors.require_caps()
turns a missing one into the error users see.
"""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

from ._libc import libc

__all__ = [
    "CAP_BPF",
    "CAP_NET_BIND_SERVICE",
    "CAP_PERFMON",
    "CAP_SYSLOG",
    "CAP_SYS_ADMIN",
    "CAP_SYS_PTRACE",
    "TRACING",
    "drop",
    "effective",
    "has",
    "missing",
    "name",
]

CAP_NET_BIND_SERVICE = 10
CAP_SETPCAP = 8
CAP_SYS_PTRACE = 19
CAP_SYS_ADMIN = 21
CAP_SYSLOG = 34
CAP_PERFMON = 38
CAP_BPF = 39
TRACING = (CAP_BPF, CAP_PERFMON)  # load and attach programs, open perf events, read the ring

_NAMES = {
    CAP_SYS_ADMIN: "CAP_SYS_ADMIN",
    CAP_SYSLOG: "CAP_SYSLOG",
    CAP_PERFMON: "CAP_PERFMON",
    CAP_BPF: "CAP_BPF",
    CAP_NET_BIND_SERVICE: "CAP_NET_BIND_SERVICE",
    CAP_SETPCAP: "CAP_SETPCAP",
    CAP_SYS_PTRACE: "CAP_SYS_PTRACE",
}
# Before CAP_BPF and CAP_PERFMON existed, CAP_SYS_ADMIN granted what they do; it still does.
_IMPLIED_BY_ADMIN = frozenset({CAP_BPF, CAP_PERFMON, CAP_SYSLOG})


def effective(status: Path = Path("/proc/self/status")) -> int:
    """The effective capability set as a bit mask (0 if unreadable)."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def name(cap: int) -> str:
    return _NAMES.get(cap, f"capability {cap}")


def missing(*caps: int, eff: int | None = None) -> list[int]:
    """The capabilities of `caps` this process lacks."""
    eff = effective() if eff is None else eff
    admin = bool(eff >> CAP_SYS_ADMIN & 1)
    return [c for c in caps if not (eff >> c & 1 or (admin and c in _IMPLIED_BY_ADMIN))]


def has(*caps: int) -> bool:
    return not missing(*caps)


# linux/capability.h: _LINUX_CAPABILITY_VERSION_3 takes two 32-bit data words.
_CAP_V3 = 0x20080522
_PR_CAPBSET_DROP = 24
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAP_LAST = 63


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop(keep: frozenset[int] = frozenset()) -> None:
    """Give up every capability but `keep` (those this process holds) for good:
    from the effective, permitted and inheritable sets, the ambient set, and,
    where CAP_SETPCAP allows, the bounding set. Applies to the calling thread;
    call it before starting other threads. OSError if the kernel refuses."""
    mask = 0
    eff = effective()
    for c in keep:
        if eff >> c & 1:
            mask |= 1 << c
    if has(CAP_SETPCAP):  # the bounding set first: dropping from it needs CAP_SETPCAP
        for c in range(_CAP_LAST + 1):
            if not mask >> c & 1 and libc.prctl(_PR_CAPBSET_DROP, c, 0, 0, 0) != 0:
                err = ctypes.get_errno()
                if err != errno.EINVAL:  # EINVAL: no such capability on this kernel
                    raise OSError(err, os.strerror(err))
    if libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        if err != errno.EINVAL:  # before Linux 4.3 there is no ambient set
            raise OSError(err, os.strerror(err))
    header = _Header(_CAP_V3, 0)
    words = (_Data * 2)()
    for i in range(2):
        part = (mask >> (32 * i)) & 0xFFFFFFFF
        words[i] = _Data(part, part, part)
    if libc.capset(ctypes.byref(header), words) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
