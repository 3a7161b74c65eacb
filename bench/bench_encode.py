"""NDJSON encoding cost per event, without the kernel: the hub's columnar
encoder (ringscope.encode.ndjson) against the row path it replaces
(Chunk.rows() + one orjson call per chunk), on blocks of BLOCK_MAX events
shaped like a flood (one process, close timestamps, a few distinct values).
Both produce the same bytes (tests/unit/test_encode.py); the figure is ns
per event, best of REPEAT, cache warm.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from bench.report import Figure, Report
from ringscope.btf import Btf
from ringscope.encode import encode_rows
from ringscope.encode import ndjson as encode_ndjson
from ringscope.events.decode import Decoder
from ringscope.events.records import Chunk
from ringscope.hub import BLOCK_MAX
from ringscope.objects import object_path
from ringscope.sources import EVENTS

SECTION = "encode"
TYPES = ("syscall", "open", "exec", "connect", "sched_switch")
REPEAT = 9


def flood_chunk(name: str, n: int = BLOCK_MAX) -> Chunk:
    spec = EVENTS[name]
    decoder = Decoder([Btf.from_elf(object_path(spec.obj))], [spec])
    code, (layout, spec) = next(iter(decoder.by_code.items()))
    rng = np.random.default_rng(0)
    recs = np.zeros(n, layout.ring_dtype(layout.record_size))
    recs["ts_ns"] = 3_600_000_000_000 + np.cumsum(rng.integers(150, 400, n))
    recs["cgroup_id"], recs["type"], recs["cpu"] = 4321, code, rng.integers(0, 2, n)
    recs["pid"] = recs["tid"] = 123456
    recs["comm"] = b"flood"
    fill: dict[str, object] = {
        "ret": rng.integers(-2, 4, n),
        "duration_ns": rng.integers(90, 2000, n),
        "id": 110,
        "path": b"/usr/lib/x86_64-linux-gnu/libc.so.6",
        "flags": 0o2000000,
        "filename": b"/usr/bin/true",
        "argv": b"true\0--version\0",
        "argv_len": 15,
        "family": 2,
        "port": 8750,
        "addr": np.array([127, 0, 0, 1] + [0] * 12, np.uint8),
        "prev_comm": b"flood",
        "next_comm": b"swapper/1",
    }
    for field, value in fill.items():
        if field in recs.dtype.names:
            recs[field] = value
    return Chunk(layout, spec, 1_234_567, recs)


def ns_per_event(fn: Callable[[], bytes], n: int) -> float:
    fn()
    best = float("inf")
    for _ in range(REPEAT):
        t0 = time.perf_counter_ns()
        for _ in range(5):
            fn()
        best = min(best, (time.perf_counter_ns() - t0) / 5 / n)
    return best


def run(report: Report) -> None:
    for name in TYPES:
        chunk = flood_chunk(name)
        assert encode_ndjson(chunk) == encode_rows(chunk.rows())
        rows = ns_per_event(lambda: encode_rows(chunk.rows()), len(chunk))  # noqa: B023 - used at once
        cols = ns_per_event(lambda: encode_ndjson(chunk), len(chunk))  # noqa: B023
        report.add(Figure(SECTION, f"encode {name} ({len(chunk)}/block)", cols, "ns/event",
                          baseline_name="rows()+orjson", baseline=rows, higher_is_better=False))  # fmt: skip
