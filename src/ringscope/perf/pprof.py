"""`report --format pprof`: the profile as a gzipped profile.proto
(github.com/google/pprof/proto/profile.proto), which `go tool pprof`,
Grafana Pyroscope and Parca read. One pprof Sample per distinct
(stack, pid, tid, comm) with two values, samples and the event's period
sum; a Mapping per file with its build id; a Location per frame (its file
offset as address, so one file is one address space across processes),
with the source line when the file has a line table."""

from __future__ import annotations

import gzip
from collections import Counter

from .profile import Profile
from .protobuf import Message
from .symbolize import ProfileSymbols

__all__ = ["pprof"]


class _Strings:
    def __init__(self) -> None:
        self.index: dict[str, int] = {"": 0}

    def __call__(self, s: str) -> int:
        return self.index.setdefault(s, len(self.index))


def _value_types(p: Profile, st: _Strings, prof: Message) -> None:
    event = str(p.meta.get("event") or "events")
    unit = "nanoseconds" if event in ("cpu-clock", "task-clock") else "count"
    prof.sub(1, Message().num(1, st("samples")).num(2, st("count")))
    prof.sub(1, Message().num(1, st(event)).num(2, st(unit)))


def _samples(p: Profile, st: _Strings, prof: Message) -> None:
    s = p.samples
    agg: Counter[tuple[int, int, int, int]] = Counter()
    periods: Counter[tuple[int, int, int, int]] = Counter()
    cols = zip(s["stack"].tolist(), s["pid"].tolist(), s["tid"].tolist(), s["comm"].tolist(),
               s["count"].tolist(), s["period"].tolist(), strict=True)  # fmt: skip
    for stack, pid, tid, comm, count, period in cols:
        agg[(stack, pid, tid, comm)] += count
        periods[(stack, pid, tid, comm)] += period
    for key, count in agg.items():
        stack, pid, tid, comm = key
        m = Message().packed(1, (f + 1 for f in p.stacks[stack])).packed(2, (count, periods[key]))
        m.sub(3, Message().num(1, st("pid")).num(3, pid))
        m.sub(3, Message().num(1, st("tid")).num(3, tid))
        m.sub(3, Message().num(1, st("comm")).num(2, st(p.comms[comm])))
        prof.sub(2, m)


def _mappings(p: Profile, st: _Strings, prof: Message) -> None:
    lo: dict[int, int] = {}
    hi: dict[int, int] = {}
    for f in p.frames:
        if f.dso >= 0:
            lo[f.dso] = min(lo.get(f.dso, f.offset), f.offset)
            hi[f.dso] = max(hi.get(f.dso, f.offset), f.offset)
    # pprof names the profile after mapping 1: user files first, the kernel last.
    for i in sorted(range(len(p.dsos)), key=lambda i: p.dsos[i].kernel):
        d = p.dsos[i]
        m = Message().num(1, i + 1).num(2, lo.get(i, 0)).num(3, hi.get(i, 0) + 1)
        m.num(5, st(d.path)).num(6, st(d.build_id or "")).num(7, 1)
        prof.sub(3, m)


def _locations(p: Profile, st: _Strings, prof: Message) -> None:
    syms = ProfileSymbols(p)
    funcs: dict[tuple[str, str], int] = {}
    for fid, ref in enumerate(p.frames):
        fr = syms.frame(fid)
        line = syms.srcline(fid)
        file, _, num = (line or "").rpartition(":")
        key = (fr.name, file or fr.path or fr.dso)
        if key not in funcs:
            funcs[key] = len(funcs) + 1
            prof.sub(5, Message().num(1, funcs[key]).num(2, st(key[0])).num(3, st(key[0])).num(4, st(key[1])))
        loc = Message().num(1, fid + 1).num(2, ref.dso + 1 if ref.dso >= 0 else 0)
        loc.num(3, ref.offset)
        loc.sub(4, Message().num(1, funcs[key]).num(2, int(num) if num.isdigit() else 0))
        prof.sub(4, loc)


def pprof(p: Profile) -> bytes:
    """The gzipped profile.proto bytes."""
    st, prof = _Strings(), Message()
    _value_types(p, st, prof)
    _samples(p, st, prof)
    _mappings(p, st, prof)
    _locations(p, st, prof)
    default = st("samples")
    for s in st.index:  # every string is interned by now
        prof.text(6, s)
    prof.num(9, int(p.meta.get("start_unix_ns") or 0)).num(10, int(p.meta.get("duration_ns") or 0))
    prof.num(14, default)
    return gzip.compress(bytes(prof))
