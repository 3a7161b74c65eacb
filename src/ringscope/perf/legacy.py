"""Aggregated stacks with per-process memory maps -> a version 2 Profile:
how version 1 profile files are read, and what the BPF aggregation mode
(sampling.py) produces. Such profiles have a count per stack and no
per-sample time (meta per_sample = false)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from ..symbols.maps import Mapping
from .builder import ProfileBuilder
from .profile import Dso, FrameRef, Profile

__all__ = ["AggSample", "from_aggregated", "from_v1"]


@dataclass
class AggSample:
    """`count` samples of one pid, comm and stack (leaf first)."""

    pid: int
    comm: str
    count: int
    kstack: list[int] = field(default_factory=list)
    ustack: list[int] = field(default_factory=list)


class _Maps:
    def __init__(self, maps: dict[int, list[Mapping]]) -> None:
        self._maps = {pid: sorted(ms, key=lambda m: m.start) for pid, ms in maps.items()}
        self._starts = {pid: [m.start for m in ms] for pid, ms in self._maps.items()}

    def find(self, pid: int, addr: int) -> Mapping | None:
        i = bisect.bisect_right(self._starts.get(pid, []), addr) - 1
        m = self._maps[pid][i] if i >= 0 else None
        return m if m is not None and addr < m.end else None


def from_aggregated(
    samples: list[AggSample],
    maps: dict[int, list[Mapping]],
    build_ids: dict[str, str | None],
    ksyms: dict[int, str],
    meta: dict[str, Any],
    stats: dict[str, int],
) -> Profile:
    b, mp = ProfileBuilder(), _Maps(maps)
    kframe_addr: dict[int, int] = {}
    for s in samples:
        ids = []
        for i, a in enumerate(s.kstack):
            fid = b.kernel_frame(a, i > 0)
            kframe_addr[fid] = a
            ids.append(fid)
        for i, a in enumerate(s.ustack):
            ret = i > 0 or bool(s.kstack)
            m = mp.find(s.pid, a)
            if m is None:
                ids.append(b.frame(FrameRef(a, -1, a, ret)))
                continue
            d = b.dso(Dso(m.path, build_ids.get(m.path) if m.path.startswith("/") else None))
            ids.append(b.frame(FrameRef(a, d, m.file_offset(a), ret)))
        b.add(0, 0, s.pid, s.pid, 0, b.stack(tuple(ids)), b.comm(s.comm), s.count)
    prof = b.build({**meta, "per_sample": False}, stats)
    prof.knames = {fid: ksyms[a] for fid, a in kframe_addr.items() if a in ksyms}
    return prof


def from_v1(doc: dict[str, Any]) -> Profile:
    """A version 1 file (docs/profile-format.md, "Version 1")."""
    samples = [
        AggSample(int(s["pid"]), str(s["comm"]), int(s["count"]),
                  [int(a, 16) for a in s["kstack"]], [int(a, 16) for a in s["ustack"]])
        for s in doc["samples"]
    ]  # fmt: skip
    maps = {
        int(pid): [
            Mapping(int(m["start"], 16), int(m["end"], 16), int(m["pgoff"], 16), str(m["path"])) for m in ms
        ]
        for pid, ms in doc["maps"].items()
    }
    build_ids = {str(k): (str(v) if v else None) for k, v in doc["build_ids"].items()}
    ksyms = {int(a, 16): str(n) for a, n in doc["ksyms"].items()}
    return from_aggregated(
        samples, maps, build_ids, ksyms, dict(doc["meta"]), {str(k): int(v) for k, v in doc["stats"].items()}
    )
