"""libbpf's own feature probes, typed."""

from __future__ import annotations

from ._lib import lib

MAP_RINGBUF = 27


def probe_map_type(map_type: int) -> bool:
    return bool(lib.libbpf_probe_bpf_map_type(map_type, None) == 1)
