"""ctypes declarations for the system libbpf.so.1 (1.1.x). The only module
that names C symbols; everything above it speaks Python types.

libbpf 1.x always runs in "strict" mode: constructors return NULL and set
errno, other calls return a negative errno that callers test directly;
`check_ptr` turns the first into OSError.
"""

from __future__ import annotations

import ctypes
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int,
    c_size_t,
    c_uint,
    c_uint32,
    c_uint64,
    c_void_p,
)

from .._libc import libc

_SONAME = "libbpf.so.1"

lib = ctypes.CDLL(_SONAME, use_errno=True)


class TracepointOpts(Structure):
    _fields_ = [("sz", c_size_t), ("bpf_cookie", c_uint64)]


class PerfEventOpts(Structure):
    _fields_ = [("sz", c_size_t), ("bpf_cookie", c_uint64)]


class UprobeOpts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("ref_ctr_offset", c_size_t),
        ("bpf_cookie", c_uint64),
        ("retprobe", c_bool),
        ("func_name", c_char_p),
    ]


class MapBatchOpts(Structure):
    _fields_ = [("sz", c_size_t), ("elem_flags", c_uint64), ("flags", c_uint64)]


class KprobeOpts(Structure):
    _fields_ = [
        ("sz", c_size_t),
        ("bpf_cookie", c_uint64),
        ("offset", c_size_t),
        ("retprobe", c_bool),
    ]


def _fn(name: str, restype: object, *argtypes: object) -> None:
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


_fn("bpf_object__open_file", c_void_p, c_char_p, c_void_p)
_fn("bpf_object__load", c_int, c_void_p)
_fn("bpf_object__close", None, c_void_p)
_fn("bpf_object__next_map", c_void_p, c_void_p, c_void_p)
_fn("bpf_object__next_program", c_void_p, c_void_p, c_void_p)
_fn("bpf_map__name", c_char_p, c_void_p)
_fn("bpf_map__fd", c_int, c_void_p)
_fn("bpf_map__type", c_int, c_void_p)
_fn("bpf_map__key_size", c_uint32, c_void_p)
_fn("bpf_map__value_size", c_uint32, c_void_p)
_fn("bpf_map__max_entries", c_uint32, c_void_p)
_fn("bpf_map__set_max_entries", c_int, c_void_p, c_uint32)
_fn("bpf_map__reuse_fd", c_int, c_void_p, c_int)
_fn("bpf_map__initial_value", c_void_p, c_void_p, POINTER(c_size_t))
_fn("bpf_object__btf", c_void_p, c_void_p)
_fn("btf__raw_data", c_void_p, c_void_p, POINTER(c_uint32))
_fn("bpf_program__name", c_char_p, c_void_p)
_fn("bpf_program__section_name", c_char_p, c_void_p)
_fn("bpf_program__set_autoload", c_int, c_void_p, c_bool)
_fn("bpf_program__autoload", c_bool, c_void_p)
_fn("bpf_program__fd", c_int, c_void_p)
_fn("bpf_program__attach", c_void_p, c_void_p)
_fn("bpf_program__attach_tracepoint_opts", c_void_p, c_void_p, c_char_p, c_char_p, c_void_p)
_fn("bpf_program__attach_perf_event_opts", c_void_p, c_void_p, c_int, c_void_p)
_fn("bpf_program__attach_uprobe_opts", c_void_p, c_void_p, c_int, c_char_p, c_size_t, c_void_p)
_fn("bpf_program__attach_kprobe_opts", c_void_p, c_void_p, c_char_p, c_void_p)
_fn("bpf_program__attach_trace", c_void_p, c_void_p)
_fn("bpf_program__set_attach_target", c_int, c_void_p, c_int, c_char_p)
_fn("bpf_link__destroy", c_int, c_void_p)
_fn("bpf_link__fd", c_int, c_void_p)
_fn("bpf_map_create", c_int, c_int, c_char_p, c_uint32, c_uint32, c_uint32, c_void_p)
_fn("bpf_map_lookup_elem", c_int, c_int, c_void_p, c_void_p)
_fn("bpf_map_update_elem", c_int, c_int, c_void_p, c_void_p, c_uint64)
_fn("bpf_map_delete_elem", c_int, c_int, c_void_p)
_fn("bpf_map_get_next_key", c_int, c_int, c_void_p, c_void_p)
_fn("bpf_map_lookup_batch", c_int, c_int, c_void_p, c_void_p, c_void_p, c_void_p, POINTER(c_uint32), c_void_p)
_fn("libbpf_probe_bpf_map_type", c_int, c_int, c_void_p)
_fn("libbpf_num_possible_cpus", c_int)

libc.vsnprintf.restype = c_int
libc.vsnprintf.argtypes = [c_char_p, c_size_t, c_char_p, c_void_p]

# libbpf's print callback receives a va_list; on the SysV ABIs we support a
# va_list argument is passed as a pointer, so vsnprintf can format it.
PRINT_FN = CFUNCTYPE(c_int, c_int, c_char_p, c_void_p)
_fn("libbpf_set_print", c_void_p, PRINT_FN)


class _LogCapture:
    """Collects libbpf's messages (including the verifier log it prints on a
    failed load) so errors can carry them. Thread-safe; one per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._buf = ctypes.create_string_buffer(1 << 24)
        self._callback = PRINT_FN(self._on_print)
        lib.libbpf_set_print(self._callback)

    def _on_print(self, level: int, fmt: bytes, args: int) -> int:
        # level 2 is LIBBPF_DEBUG: too chatty to keep.
        if level >= 2:
            return 0
        with self._lock:
            # One reused buffer: a verifier log arrives as a single "%s" of
            # up to libbpf's 16 MiB log size.
            n = libc.vsnprintf(self._buf, len(self._buf), fmt, args)
            self._lines.append(self._buf.value.decode(errors="replace"))
            del self._lines[:-1000]
        return int(n)

    def take(self) -> str:
        with self._lock:
            text = "".join(self._lines)
            self._lines.clear()
        return text


log_capture = _LogCapture()


def errno() -> int:
    return ctypes.get_errno()


def check_ptr(ptr: int | None) -> int:
    """Return ptr, or raise OSError(errno) when libbpf returned NULL."""
    if not ptr:
        err = ctypes.get_errno() or 22
        raise OSError(err, "libbpf call failed")
    return ptr


__all__ = [
    "KprobeOpts",
    "PerfEventOpts",
    "TracepointOpts",
    "UprobeOpts",
    "c_uint",
    "check_ptr",
    "errno",
    "lib",
    "log_capture",
]
