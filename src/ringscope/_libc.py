"""The C library, loaded once for every ctypes user (libbpf's log callback
formats with vsnprintf; perf_event_open has no glibc wrapper and goes
through syscall(2)). errno is kept per thread (use_errno)."""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["libc"]

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
