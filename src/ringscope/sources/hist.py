"""In-kernel aggregation: the Python half of bpf/hist.bpf.c. One Histogram
owns one loaded hist.bpf.o: counts per key, or log2 histograms of a
latency or a value, kept in BPF maps with no ring traffic per event. It is
what `ringscope hist`, `GET /api/hist` and `serve --aggregate` run.

    with Histogram(parse_spec("uretprobe:libc:malloc?by=comm")) as h:
        time.sleep(1)
        print(h.snapshot().render())

What to run comes from a HistQuery (hist_query.py) and its plan
(hist_plan.py). Readings are cumulative and exact: the map is never cleared
or evicted under the programs, so per-interval views are differences of
readings and every value only grows. At most `max_labels` keys are kept;
the events of any other key go to one `other` entry, counted in `overflow`.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from .. import caps, features
from .._libbpf import BpfObject, Link
from ..closing import Closing
from ..errors import BadInput, require_caps
from ..events.layout import struct_dtype
from ..objects import object_path
from .dynamic import DynamicSpec
from .hist_plan import RUNQLAT, Hook, Plan, plan
from .hist_query import DEFAULT_MAX_LABELS, HistQuery
from .hist_snapshot import OTHER, HistRow, HistSnapshot
from .registry import resolve_probe
from .syscalls import syscall_names

__all__ = ["HistData", "Histogram", "collect"]

_ZERO_KEY = bytes(4)


@dataclass(frozen=True)
class HistData:
    """One reading of a histogram's maps, as numpy arrays (cumulative).
    `slots[i, j]` counts the values of key i in [2^j, 2^(j+1))."""

    keys: np.ndarray  # rs_hist_key records, one per label set in the map
    count: np.ndarray  # uint64 per key
    sum: np.ndarray  # uint64 per key: of the values (ns, bytes); 0 for counts
    slots: np.ndarray  # uint64 [keys, RS_HIST_SLOTS]
    other: np.void  # the rs_hist_val of the folded keys
    overflow: int  # events folded into other
    missed: int  # starts not timed: the per-thread start map was full
    ts_ns: int


class Histogram(Closing):
    """One in-kernel aggregate. open() loads hist.bpf.o and attaches;
    read()/snapshot() read the maps; close() detaches and frees, in reverse
    order. Not thread-safe; a reading is one batch lookup per map."""

    def __init__(self, query: HistQuery, *, default_max_labels: int = DEFAULT_MAX_LABELS) -> None:
        self.query = query
        self.max_labels = query.max_labels or default_max_labels
        self.pid = query.pid  # only this process; may be set before open() (hist -- CMD)
        self.spec: DynamicSpec | None = None if query.event in RUNQLAT else resolve_probe(query.event)
        self.plan: Plan = plan(query, self.spec)
        self._stack = ExitStack()
        self._obj: BpfObject | None = None
        self.links: list[Link] = []

    @property
    def event(self) -> str:
        return self.query.event

    # -- lifecycle -------------------------------------------------------------

    def open(self) -> Self:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def _open(self) -> None:
        require_caps("hist", *caps.TRACING)
        if self.spec is not None:
            require_caps(self.spec.name, *self.spec.capabilities)
        if self.plan.needs_tp_btf:
            features.require(features.probe().tp_btf)
        obj = self._obj = self._stack.enter_context(BpfObject.open(object_path("hist")))
        programs = self.plan.programs
        for prog in obj.programs.values():
            prog.set_autoload(prog.name in programs)
        obj.set_rodata(**self.plan.rodata, rs_tgid=self.pid or 0)
        obj.set_max_entries("rs_hist", self.max_labels)
        obj.load()
        for hook in self.plan.hooks:
            for link in self._attach(obj, hook):
                self.links.append(self._stack.enter_context(link))
        self._key_dtype = struct_dtype(obj.btf, "rs_hist_key")
        self._val_dtype = struct_dtype(obj.btf, "rs_hist_val")

    def _attach(self, obj: BpfObject, hook: Hook) -> list[Link]:
        pid = -1 if self.pid is None else self.pid
        prog = obj.program(hook.program)
        if hook.tracepoint is not None:
            return [prog.attach_tracepoint(*hook.tracepoint)]
        if hook.uprobe is not None:
            binary, offset, ret = hook.uprobe
            return [prog.attach_uprobe(binary, offset, retprobe=ret, pid=pid)]
        if hook.usdt is not None:
            links: list[Link] = []
            try:
                links.extend(hook.usdt.attach_program(obj, hook.program, 0, self.pid))
            except BaseException:
                for link in links:
                    link.close()
                raise
            return links
        return [prog.attach()]

    def close(self) -> None:
        """Detach and free everything. Idempotent."""
        self.links.clear()
        self._obj = None
        self._stack.close()

    def __enter__(self) -> Self:
        return self.open()

    # -- reading -----------------------------------------------------------------

    def read(self) -> HistData:
        """The cumulative maps now, as arrays."""
        assert self._obj is not None, "histogram is not open"
        obj = self._obj
        raw_keys, raw_vals, n = obj.map("rs_hist").dump()
        keys = np.frombuffer(raw_keys, self._key_dtype, n)
        vals = np.frombuffer(raw_vals, self._val_dtype, n)
        other = np.frombuffer(obj.map("rs_hist_other").lookup(_ZERO_KEY) or bytes(self._val_dtype.itemsize),
                              self._val_dtype)[0]  # fmt: skip
        return HistData(keys, vals["count"], vals["sum"], vals["slots"], other, self._counter("rs_hist_overflow"),
                        self._counter("rs_hist_missed"), time.monotonic_ns())  # fmt: skip

    def _counter(self, name: str) -> int:
        assert self._obj is not None
        return int.from_bytes(self._obj.map(name).lookup(_ZERO_KEY) or bytes(8), "little")

    def labels(self, keys: np.ndarray) -> list[int | str | None]:
        """The label value of each key: comm, pid, a field (sign-extended),
        an argument, or a syscall's name; None without `by`."""
        how = self.plan.key
        if how == "none":
            return [None] * len(keys)
        if how == "comm":
            return [bytes(c).split(b"\0", 1)[0].decode(errors="replace") for c in keys["comm"]]
        values = keys["key"].astype(np.uint64)
        bits = self.plan.key_bits
        if how in ("signed", "syscall") and bits < 64:
            values = values & np.uint64((1 << bits) - 1)
            ints = [v - (1 << bits) if v >> (bits - 1) & 1 else v for v in values.tolist()]
        else:
            ints = values.view(np.int64).tolist() if how == "signed" else values.tolist()
        if how == "syscall":
            names = syscall_names()
            return [names.get(v, f"syscall_{v}") for v in ints]
        return list(ints)

    def snapshot(self) -> HistSnapshot:
        """The cumulative counts so far, as rows sorted by count."""
        d = self.read()
        log2 = self.plan.kind == "log2"
        slots = [tuple(s) for s in d.slots.tolist()] if log2 else [()] * len(d.keys)
        labels, counts, sums = self.labels(d.keys), d.count.tolist(), d.sum.tolist()
        rows = [HistRow(*r) for r in zip(labels, counts, sums, slots, strict=True)]
        rows.sort(key=lambda r: (-r.count, str(r.key)))
        other = HistRow(OTHER, int(d.other["count"]), int(d.other["sum"]),
                        tuple(int(x) for x in d.other["slots"]) if log2 else ())  # fmt: skip
        return HistSnapshot(self.event, self.query.by, self.plan.kind, self.plan.unit, d.ts_ns, tuple(rows),
                            d.overflow, other=other if other.count else None)  # fmt: skip


def collect(query: HistQuery, duration: float = 1.0) -> dict[str, Any]:
    """One-shot: aggregate for `duration` seconds and return the snapshot as
    a JSON-ready dict (what `GET /api/hist` serves). Blocking: call it from
    a worker thread in async code. Raises BadInput, NotSupported,
    PermissionDenied like the CLI."""
    if not 0 < duration <= 60:
        raise BadInput(f"bad duration {duration}: must be in (0, 60] seconds")
    with Histogram(query) as h:
        time.sleep(duration)
        return h.snapshot().as_dict()
