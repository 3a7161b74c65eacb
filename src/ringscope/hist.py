"""In-kernel aggregation: counts per key and log2 histograms kept in a BPF
hash map by bpf/hist.bpf.c, with no ring traffic per event. The Python side
picks the programs, reads the map on its own timer and renders the result
the way bcc's funccount/funclatency/runqlat do.

    with Histogram("uretprobe:libc:malloc", latency=True) as h:
        time.sleep(1)
        print(h.snapshot().render())

Events: `tracepoint:SYS:NAME` (counts, `--by FIELD|comm|pid|tid`),
`uprobe:BIN:FUNC` (counts, `--by argN|comm|pid|tid`; with `latency=True` a
latency histogram), `uretprobe:BIN:FUNC` (latency histogram), and
`runqlat` (run-queue latency: sched_wakeup -> sched_switch).
Snapshots are cumulative and exact: the map is never cleared under the
programs; per-interval views are differences of snapshots.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import numpy as np

from . import features
from ._libbpf import BpfObject, Link
from .errors import BadInput, PermissionDenied
from .events.layout import struct_dtype
from .filters import parse_pid
from .numbers import parse_float
from .objects import object_path
from .sources.dynamic import resolve
from .sources.tracepoint import TracepointSpec
from .sources.uprobe import UprobeSpec
from .tracefs import TpField

__all__ = ["HistRow", "HistSnapshot", "Histogram", "collect", "collect_query"]

RUNQLAT = ("runqlat", "runq", "sched:runqlat")
_BY = {None: 0, "pid": 1, "comm": 2, "field": 3, "arg": 4, "tid": 5}


@dataclass(frozen=True)
class HistRow:
    key: int | str | None  # None: no --by
    count: int
    sum: int = 0  # of the values (ns) for latency histograms
    slots: tuple[int, ...] = ()  # slots[i]: values in [2^i, 2^(i+1)); empty for counts

    def minus(self, old: HistRow | None) -> HistRow:
        if old is None:
            return self
        slots = tuple(a - b for a, b in zip(self.slots, old.slots, strict=True))
        return HistRow(self.key, self.count - old.count, self.sum - old.sum, slots)


@dataclass(frozen=True)
class HistSnapshot:
    """One reading of the map. JSON-ready with as_dict(); text with render()."""

    event: str
    by: str | None
    kind: str  # "count" or "log2"
    unit: str  # "" for counts, "nsecs" for latencies
    ts_ns: int
    rows: tuple[HistRow, ...]
    dropped: int = 0  # events whose key did not fit in the map
    interval: bool = False  # True: counts since the previous snapshot

    @property
    def total(self) -> int:
        return sum(r.count for r in self.rows)

    def minus(self, old: HistSnapshot | None) -> HistSnapshot:
        """Counts since `old` (for periodic output)."""
        if old is None:
            return HistSnapshot(**{**self.__dict__, "interval": True})
        before = {r.key: r for r in old.rows}
        rows = tuple(d for r in self.rows if (d := r.minus(before.get(r.key))).count)
        return HistSnapshot(self.event, self.by, self.kind, self.unit, self.ts_ns, rows,
                            self.dropped - old.dropped, True)  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for r in self.rows:
            row: dict[str, Any] = {"key": r.key, "count": r.count}
            if self.kind == "log2":
                row["sum"] = r.sum
                last = max((i for i, c in enumerate(r.slots) if c), default=-1)
                row["buckets"] = [
                    {"le": (1 << (i + 1)) - 1, "count": c} for i, c in enumerate(r.slots[: last + 1])
                ]
            rows.append(row)
        return {"event": self.event, "by": self.by, "kind": self.kind, "unit": self.unit, "ts_ns": self.ts_ns,
                "interval": self.interval, "total": self.total, "dropped": self.dropped, "rows": rows}  # fmt: skip

    def render(self) -> str:
        """bcc-style text: a count table, or one log2 histogram per key."""
        if self.kind == "count":
            return _render_counts(self)
        return "\n\n".join(_render_log2(self, r) for r in self.rows) or f"(no {self.event} events)"


def _render_counts(s: HistSnapshot) -> str:
    rows = sorted(s.rows, key=lambda r: (-r.count, str(r.key)))
    head = f"{(s.by or 'event').upper():<24} {'COUNT':>12}"
    lines = [head] + [f"{s.event if r.key is None else str(r.key):<24} {r.count:>12}" for r in rows]
    if s.dropped:
        lines.append(f"({s.dropped} events not counted: the key map is full)")
    return "\n".join(lines)


def _render_log2(s: HistSnapshot, r: HistRow, width: int = 40) -> str:
    first = min((i for i, c in enumerate(r.slots) if c), default=0)
    last = max((i for i, c in enumerate(r.slots) if c), default=0)
    peak = max(r.slots, default=0) or 1
    title = f"{s.by} = {r.key}" if s.by else s.event
    lines = [title, f"{s.unit:>20} {'':<14}: {'count':<8} distribution"]
    for i in range(first, last + 1):
        lo, hi = (0 if i == 0 else 1 << i), (1 << (i + 1)) - 1
        bar = "*" * (r.slots[i] * width // peak)
        lines.append(f"{lo:>20} -> {hi:<12}: {r.slots[i]:<8} |{bar:<{width}}|")
    avg = r.sum // r.count if r.count else 0
    lines.append(f"avg = {avg} {s.unit}, total: {r.sum} {s.unit}, count: {r.count}")
    return "\n".join(lines)


@dataclass
class _Plan:
    """What to load and attach for one hist request."""

    kind: str
    unit: str
    programs: tuple[str, ...]
    rodata: dict[str, int | bytes] = field(default_factory=dict)
    key_signed: bool = False


def _groupable(f: TpField) -> bool:
    """An integer field (not an array, a string or a pointer)."""
    plain = not (f.nelems or f.is_data_loc or f.is_rel_loc or "*" in f.ctype)
    return plain and f.size in (1, 2, 4, 8)


class Histogram:
    """One in-kernel histogram. open() loads hist.bpf.o and attaches;
    snapshot() reads the map; close() detaches and frees, in reverse order.
    Not thread-safe; snapshot() is cheap (one map walk)."""

    def __init__(
        self, event: str, *, by: str | None = None, latency: bool = False, pid: int | None = None
    ) -> None:
        self.event = event.strip()
        self.by = by
        self.pid = pid
        self.spec = None if self.event in RUNQLAT else resolve(self.event)
        self.plan = self._plan(latency)
        self._stack = ExitStack()
        self._obj: BpfObject | None = None
        self.links: list[Link] = []

    # -- configuration -------------------------------------------------------

    def _by_rodata(self, allowed: tuple[str, ...]) -> dict[str, int | bytes]:
        if self.by is None:
            return {"rs_by": 0}
        if self.by in allowed:
            return {"rs_by": _BY[self.by]}
        raise BadInput(
            f"hist -e {self.event}: cannot group --by {self.by!r} (choose from {', '.join(allowed)})"
        )

    def _plan(self, latency: bool) -> _Plan:
        spec = self.spec
        if spec is None:
            return _Plan("log2", "nsecs", ("hist_wakeup", "hist_wakeup_new", "hist_switch"),
                         self._by_rodata(("comm", "pid", "tid")))  # fmt: skip
        if isinstance(spec, TracepointSpec):
            if latency:
                raise BadInput("--latency needs a uretprobe/uprobe event or runqlat; tracepoints are counted")
            return self._tracepoint_plan(spec)
        if isinstance(spec, UprobeSpec):
            if latency or spec.retprobe:
                return _Plan(
                    "log2", "nsecs", ("hist_uentry", "hist_uret"), self._by_rodata(("comm", "pid", "tid"))
                )
            if self.by and self.by[:3] == "arg" and self.by[3:].isdigit() and int(self.by[3:]) < 5:
                return _Plan(
                    "count", "", ("hist_uprobe_count",), {"rs_by": _BY["arg"], "rs_key_arg": int(self.by[3:])}
                )
            return _Plan(
                "count", "", ("hist_uprobe_count",), self._by_rodata(("comm", "pid", "tid", "arg0..arg4"))
            )
        raise BadInput(f"hist supports tracepoints, uprobes, uretprobes and runqlat, not {self.event!r}")

    def _tracepoint_plan(self, spec: TracepointSpec) -> _Plan:
        if self.by is None or self.by in ("comm", "pid", "tid"):
            return _Plan("count", "", ("hist_tp_count",), self._by_rodata(("comm", "pid", "tid")))
        name = self.by.removeprefix("tp_")
        f = next((f for f in spec.fields if f.name == name), None)
        if f is None or not _groupable(f):
            fields = [g.name for g in spec.fields if _groupable(g)]
            raise BadInput(f"--by {self.by!r}: not an integer field of {spec.format.full_name} "
                           f"(fields: {', '.join(fields)}; or comm, pid, tid)")  # fmt: skip
        rodata: dict[str, int | bytes] = {
            "rs_by": _BY["field"],
            "rs_key_off": f.offset,
            "rs_key_size": f.size,
        }
        return _Plan("count", "", ("hist_tp_count",), rodata, key_signed=f.signed)

    # -- lifecycle -------------------------------------------------------------

    def open(self) -> Self:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def _open(self) -> None:
        if os.geteuid() != 0:
            raise PermissionDenied("hist needs root (or CAP_BPF and CAP_PERFMON)")
        if self.spec is None:
            features.require(features.probe().tp_btf)
        obj = self._obj = self._stack.enter_context(BpfObject.open(object_path("hist")))
        for prog in obj.programs.values():
            prog.set_autoload(prog.name in self.plan.programs)
        obj.set_rodata(**self.plan.rodata, rs_tgid=self.pid or 0)
        obj.load()
        for link in self._attach(obj):
            self.links.append(self._stack.enter_context(link))
        btf = obj.btf
        self._key_dtype = struct_dtype(btf, "rs_hist_key")
        self._val_dtype = struct_dtype(btf, "rs_hist_val")

    def _attach(self, obj: BpfObject) -> list[Link]:
        spec, pid = self.spec, -1 if self.pid is None else self.pid
        if spec is None:
            return [obj.program(p).attach() for p in self.plan.programs]
        if isinstance(spec, TracepointSpec):
            return [obj.program("hist_tp_count").attach_tracepoint(spec.format.system, spec.format.name)]
        assert isinstance(spec, UprobeSpec)
        if self.plan.kind == "count":
            return [obj.program("hist_uprobe_count").attach_uprobe(spec.binary, spec.offset, pid=pid)]
        entry = obj.program("hist_uentry").attach_uprobe(spec.binary, spec.offset, pid=pid)
        try:
            ret = obj.program("hist_uret").attach_uprobe(spec.binary, spec.offset, retprobe=True, pid=pid)
        except BaseException:
            entry.close()
            raise
        return [entry, ret]

    def close(self) -> None:
        """Detach and free everything. Idempotent."""
        self.links.clear()
        self._obj = None
        self._stack.close()

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------

    def snapshot(self) -> HistSnapshot:
        """The cumulative counts so far."""
        assert self._obj is not None, "histogram is not open"
        hist = self._obj.map("rs_hist")
        rows = []
        for k, v in hist.items():
            key = np.frombuffer(k, self._key_dtype)[0]
            val = np.frombuffer(v, self._val_dtype)[0]
            slots = tuple(int(x) for x in val["slots"]) if self.plan.kind == "log2" else ()
            rows.append(HistRow(self._key(key), int(val["count"]), int(val["sum"]), slots))
        dropped = int.from_bytes(self._obj.map("rs_hist_dropped").lookup(bytes(4)) or bytes(8), "little")
        rows.sort(key=lambda r: (-r.count, str(r.key)))
        return HistSnapshot(self.event, self.by, self.plan.kind, self.plan.unit, time.monotonic_ns(),
                            tuple(rows), dropped)  # fmt: skip

    def _key(self, key: np.void) -> int | str | None:
        if self.by is None:
            return None
        if self.by == "comm":
            return bytes(key["comm"]).split(b"\0", 1)[0].decode(errors="replace")
        value = int(key["key"])
        if self.plan.key_signed:
            bits = 8 * int(self.plan.rodata.get("rs_key_size", 8))
            value = value - (1 << bits) if value >> (bits - 1) & 1 else value
        return value


def collect(
    event: str, *, by: str | None = None, latency: bool = False, pid: int | None = None, duration: float = 1.0
) -> dict[str, Any]:
    """One-shot: aggregate `event` for `duration` seconds and return the
    snapshot as a JSON-ready dict (what `GET /api/hist` serves). Blocking:
    call it from a worker thread in async code. Raises BadInput,
    NotSupported, PermissionDenied like the CLI."""
    if not 0 < duration <= 60:
        raise BadInput(f"bad duration {duration}: must be in (0, 60] seconds")
    with Histogram(event, by=by, latency=latency, pid=pid) as h:
        time.sleep(duration)
        return h.snapshot().as_dict()


_QUERY = frozenset({"event", "by", "latency", "pid", "duration"})


def collect_query(query: Mapping[str, str]) -> dict[str, Any]:
    """`GET /api/hist?event=E[&by=F][&latency=1][&pid=P][&duration=S]`:
    validate the query parameters (BadInput, i.e. a 400, for unknown or bad
    ones) and run collect(). Blocking like collect()."""
    unknown = sorted(set(query) - _QUERY)
    if unknown:
        raise BadInput(f"unknown parameter {unknown[0]!r} (allowed: {', '.join(sorted(_QUERY))})")
    event = query.get("event", "").strip()
    if not event:
        raise BadInput("missing parameter 'event' (e.g. event=runqlat or event=uretprobe:libc:malloc)")
    latency = query.get("latency", "0").lower()
    if latency not in ("0", "1", "true", "false"):
        raise BadInput(f"bad latency {latency!r}: use 1 or 0")
    duration = parse_float(query.get("duration", "1"), "duration")
    # In range and alive: the kernel side keeps a u32, so 2**32 + 1 would trace pid 1.
    pid = parse_pid(query["pid"]) if "pid" in query else None
    return collect(
        event, by=query.get("by") or None, latency=latency in ("1", "true"), pid=pid, duration=duration
    )
