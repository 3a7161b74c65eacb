"""libbpf's own feature probes, typed."""

from __future__ import annotations

from ._lib import lib

MAP_RINGBUF = 27
PROG_TRACEPOINT = 5
PROG_PERF_EVENT = 7
PROG_KPROBE = 2
PROG_TRACING = 26


def probe_map_type(map_type: int) -> bool:
    return bool(lib.libbpf_probe_bpf_map_type(map_type, None) == 1)


def probe_prog_type(prog_type: int) -> bool:
    return bool(lib.libbpf_probe_bpf_prog_type(prog_type, None) == 1)
