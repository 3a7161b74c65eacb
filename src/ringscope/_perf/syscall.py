"""The one seam between ringscope.perf and the kernel: perf_event_open(2)
through ctypes, plus the ioctls and reads on the fds it returns.

glibc has no wrapper for perf_event_open, so it goes through syscall(2)
with the number for this architecture. Unit tests replace `sys_perf_event_open`
to exercise everything above it without a kernel.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import platform
from collections.abc import Callable

from .._libc import libc as _libc

__all__ = [
    "PERF_FLAG_FD_CLOEXEC",
    "PERF_FLAG_PID_CGROUP",
    "SYSCALL_NUMBERS",
    "disable",
    "enable",
    "open_event",
    "reset",
    "set_output",
    "syscall_number",
]

# perf_event_open(2) numbers from each architecture's syscall table
# (arch/*/entry/syscalls/syscall*.tbl and include/uapi/asm-generic/unistd.h).
SYSCALL_NUMBERS: dict[str, int] = {
    "x86_64": 298,
    "i386": 336,
    "i686": 336,
    "aarch64": 241,  # asm-generic table, shared by the newer ports below
    "riscv64": 241,
    "loongarch64": 241,
    "armv7l": 364,
    "armv6l": 364,
    "ppc64le": 319,
    "ppc64": 319,
    "s390x": 331,
    "mips64": 5296,  # n64 ABI
}

PERF_FLAG_PID_CGROUP = 1 << 2
PERF_FLAG_FD_CLOEXEC = 1 << 3

# _IO('$', n): the perf ioctls carry no argument size.
_IOC_ENABLE, _IOC_DISABLE, _IOC_RESET, _IOC_SET_OUTPUT = 0x2400, 0x2401, 0x2403, 0x2405
_IOC_FLAG_GROUP = 1  # apply the ioctl to the whole group via the leader

_libc.syscall.restype = ctypes.c_long


def syscall_number(machine: str | None = None) -> int:
    machine = machine or platform.machine()
    try:
        return SYSCALL_NUMBERS[machine]
    except KeyError:
        raise OSError(errno.ENOSYS, f"perf_event_open: no syscall number known for {machine}") from None


def _sys_perf_event_open(attr: bytes, pid: int, cpu: int, group_fd: int, flags: int) -> int:
    buf = ctypes.create_string_buffer(attr, len(attr))
    ret = _libc.syscall(
        ctypes.c_long(syscall_number()),
        buf,
        ctypes.c_int(pid),
        ctypes.c_int(cpu),
        ctypes.c_int(group_fd),
        ctypes.c_ulong(flags),
    )
    if ret < 0:
        return -ctypes.get_errno()
    return int(ret)


# The seam: (attr bytes, pid, cpu, group_fd, flags) -> fd or -errno.
sys_perf_event_open: Callable[[bytes, int, int, int, int], int] = _sys_perf_event_open


def open_event(attr: bytes, pid: int, cpu: int, group_fd: int = -1, flags: int = 0) -> int:
    """Open one perf event; returns the fd (close-on-exec) or raises OSError.
    With PERF_FLAG_PID_CGROUP in `flags`, `pid` is a cgroup directory fd."""
    ret = sys_perf_event_open(attr, pid, cpu, group_fd, PERF_FLAG_FD_CLOEXEC | flags)
    if ret < 0:
        raise OSError(-ret, os.strerror(-ret))
    return ret


def enable(fd: int, group: bool = False) -> None:
    fcntl.ioctl(fd, _IOC_ENABLE, _IOC_FLAG_GROUP if group else 0)


def disable(fd: int, group: bool = False) -> None:
    fcntl.ioctl(fd, _IOC_DISABLE, _IOC_FLAG_GROUP if group else 0)


def reset(fd: int) -> None:
    fcntl.ioctl(fd, _IOC_RESET, 0)


def set_output(fd: int, target_fd: int) -> None:
    """Send `fd`'s records to the ring mmap'ed on `target_fd` (same CPU)."""
    fcntl.ioctl(fd, _IOC_SET_OUTPUT, target_fd)
