"""Aggregated stacks with per-process memory maps -> a version 2 profile
document: how version 1 profile files are read, and what the BPF
aggregation mode (sampling.py) produces. Such profiles have a count per
stack and no per-sample time (meta per_sample = false). Works on plain
JSON values, below profile.py, which parses the result like any file."""

from __future__ import annotations

import base64
import bisect
import sys
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..symbols.maps import Mapping

__all__ = ["COLUMNS", "AggSample", "decode_column", "encode_column", "from_aggregated", "v1_to_v2"]

# The per-sample columns of version 2, in order (profile.py reads them):
# unsigned little-endian integers, as array typecodes (Q: 8 bytes, I: 4).
COLUMNS = {"time": "Q", "cpu": "I", "pid": "I", "tid": "I", "period": "Q",
           "stack": "I", "comm": "I", "count": "I"}  # fmt: skip


# array rather than numpy: `report` reads columns and nothing else that
# needs numpy, whose import would be a third of its start-up.
def encode_column(code: str, values: Iterable[int]) -> str:
    """A column as the file stores it: base64 of its little-endian bytes."""
    col = array(code, values)
    if sys.byteorder == "big":
        col.byteswap()
    return base64.b64encode(col.tobytes()).decode()


def decode_column(code: str, text: str) -> array[int]:
    """encode_column's inverse (ValueError on bytes that are not one)."""
    col = array(code)
    col.frombytes(base64.b64decode(text))
    if sys.byteorder == "big":
        col.byteswap()
    return col


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


class _Doc:
    """Interns dsos, frames, stacks and comms into a version 2 document
    (plain JSON values: this module sits below profile.py, which reads it)."""

    def __init__(self) -> None:
        self.dsos: dict[tuple[str, str | None, int], int] = {}
        self.frames: dict[tuple[int, int, int, int], int] = {}
        self.stacks: dict[tuple[int, ...], int] = {}
        self.comms: dict[str, int] = {}
        self.knames: dict[str, str] = {}
        self.rows: list[tuple[int, ...]] = []

    def frame(self, addr: int, dso: tuple[str, str | None, int] | None, offset: int, ret: bool) -> int:
        d = self.dsos.setdefault(dso, len(self.dsos)) if dso is not None else -1
        return self.frames.setdefault((addr, d, offset, int(ret)), len(self.frames))

    def doc(self, meta: dict[str, Any], stats: dict[str, int]) -> dict[str, Any]:
        cols = {k: encode_column(t, (r[i] for r in self.rows)) for i, (k, t) in enumerate(COLUMNS.items())}
        return {
            "format": "ringscope-profile", "version": 2, "meta": {**meta, "per_sample": False},
            "stats": stats, "dsos": [list(d) for d in self.dsos], "frames": [list(f) for f in self.frames],
            "stacks": [list(s) for s in self.stacks], "comms": list(self.comms), "samples": cols,
            "knames": self.knames,
        }  # fmt: skip


_KERNEL = ("[kernel.kallsyms]", None, 1)


def from_aggregated(
    samples: list[AggSample],
    maps: dict[int, list[Mapping]],
    build_ids: dict[str, str | None],
    ksyms: dict[int, str],
    meta: dict[str, Any],
    stats: dict[str, int],
) -> dict[str, Any]:
    """A version 2 profile document (Profile.from_json reads it)."""
    d, mp = _Doc(), _Maps(maps)
    for s in samples:
        ids = []
        for i, a in enumerate(s.kstack):
            fid = d.frame(a, _KERNEL, a, i > 0)
            if a in ksyms:
                d.knames[str(fid)] = ksyms[a]
            ids.append(fid)
        for i, a in enumerate(s.ustack):
            ret = i > 0 or bool(s.kstack)
            m = mp.find(s.pid, a)
            if m is None:
                ids.append(d.frame(a, None, a, ret))
                continue
            bid = build_ids.get(m.path)  # files, and [vdso] when its image was saved
            ids.append(d.frame(a, (m.path, bid, 0), m.file_offset(a), ret))
        stack = d.stacks.setdefault(tuple(ids), len(d.stacks))
        comm = d.comms.setdefault(s.comm, len(d.comms))
        d.rows.append((0, 0, s.pid, s.pid, 0, stack, comm, s.count))
    return d.doc(meta, stats)


def v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """A version 1 document (docs/profile-format.md, "Version 1") as version 2."""
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
