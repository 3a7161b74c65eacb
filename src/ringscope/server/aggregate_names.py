"""Prometheus names for in-kernel aggregates, following Prometheus' naming
conventions: base units (seconds, bytes), `_total` on counters, what is
measured in the name and which one in labels, so that aggregates of one
kind share a family:

    runqlat                              ringscope_runqlat_seconds
    syscalls:sys_enter_read?latency=1    ringscope_syscall_latency_seconds{syscall="read"}
    syscalls:sys_enter_read              ringscope_syscalls_total{syscall="read"}
    syscalls:sys_exit_read?value=ret     ringscope_syscall_ret_bytes{syscall="read"}
    raw_syscalls:sys_enter?latency=1&by=id   ringscope_syscall_latency_seconds{syscall=...}
    SYS:NAME                             ringscope_SYS_NAME_total
    uprobe:BIN:FUNC, uretprobe:BIN:FUNC  ringscope_uprobe_calls_total / ringscope_uprobe_latency_seconds
                                           {binary=..., function=...}
    usdt:BIN:PROVIDER:NAME               ringscope_usdt_probes_total{binary=..., provider=..., probe=...}
    ...?name=NAME                        ringscope_NAME_total / _seconds / _bytes

`by` adds one label (comm, pid, tid, the field's name, argN; `syscall` for
syscall numbers). The README lists every name with its HELP text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import BadInput
from ..sources.hist import Histogram
from ..sources.hist_plan import syscall_pair
from ..sources.tracepoint import TracepointSpec
from ..sources.uprobe import UprobeSpec
from ..sources.usdt import UsdtSpec

__all__ = ["MetricName", "check_names", "metric_name"]

_SUFFIX = {"nsecs": "_seconds", "bytes": "_bytes", "": ""}
_BAD = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(frozen=True)
class MetricName:
    """Where one aggregate goes in /metrics."""

    family: str  # the metric name: ringscope_syscalls_total, ringscope_runqlat_seconds
    type: str  # "counter" or "histogram"
    help: str
    fixed: tuple[tuple[str, str], ...] = ()  # labels that name the aggregate within its family
    label: str | None = None  # the label of `by`, one value per key

    @property
    def shape(self) -> tuple[str, tuple[str, ...], str | None]:
        """What aggregates sharing a family must agree on."""
        return self.family, tuple(k for k, _ in self.fixed), self.label


def _clean(text: str) -> str:
    return _BAD.sub("_", text)


def _base(h: Histogram) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """(name without unit suffix, HELP, fixed labels) by the kind of event."""
    q, spec, log2 = h.query, h.spec, h.plan.kind == "log2"
    what = "latency" if h.plan.unit == "nsecs" else (q.value or "calls")
    if spec is None:
        return "ringscope_runqlat", "Run-queue latency: time from wakeup (or preemption) to running", ()
    if isinstance(spec, TracepointSpec):
        return _tracepoint(h, spec)
    fixed: tuple[tuple[str, str], ...]
    if isinstance(spec, UsdtSpec):
        fixed = (("binary", spec.binary), ("provider", spec.notes[0].provider), ("probe", spec.notes[0].name))
        if log2:
            return f"ringscope_usdt_{_clean(what)}", f"USDT probe argument {q.value}", fixed
        return "ringscope_usdt_probes", "USDT probes hit", fixed
    if isinstance(spec, UprobeSpec):
        fixed = (("binary", spec.binary), ("function", spec.func))
        if what == "latency":
            return "ringscope_uprobe_latency", "User function latency, call to return", fixed
        if log2:
            return f"ringscope_uprobe_{_clean(what)}", f"User function {q.value}", fixed
        return "ringscope_uprobe_calls", "User function calls", fixed
    raise BadInput(f"no metric name for {q.event!r}")  # the plan refuses these first


def _tracepoint(h: Histogram, spec: TracepointSpec) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    system, name, q = spec.format.system, spec.format.name, h.query
    pair = syscall_pair(system, name)
    latency = h.plan.unit == "nsecs"
    if latency:
        fixed = (
            ()
            if system == "raw_syscalls"
            else (("syscall", pair[0].removeprefix("sys_enter_")),)
            if pair
            else ()
        )
        return "ringscope_syscall_latency", "Syscall latency, entry to exit", fixed
    if system == "syscalls" and pair:
        fixed = (("syscall", pair[0].removeprefix("sys_enter_")),)
        if q.value is not None:
            return f"ringscope_syscall_{_clean(q.value)}", f"Syscall argument or result {q.value}", fixed
        if name == pair[0]:
            return "ringscope_syscalls", "Syscalls entered", fixed
        return "ringscope_syscall_exits", "Syscalls returned", fixed
    base = f"ringscope_{_clean(system)}_{_clean(name)}"
    if q.value is not None:
        return f"{base}_{_clean(q.value)}", f"Tracepoint {system}:{name} field {q.value}", ()
    return base, f"Tracepoint {system}:{name} hits", ()


def metric_name(h: Histogram) -> MetricName:
    """The family, type, HELP and labels of aggregate `h`."""
    base, help_text, fixed = _base(h)
    if h.query.name:
        base = f"ringscope_{h.query.name}"
    counter = h.plan.kind == "count"
    family = base + ("_total" if counter else _SUFFIX[h.plan.unit])
    label = h.plan.label
    if label is not None and label in {"le", *(k for k, _ in fixed)}:
        label = f"by_{label}"
    help_text += " (in-kernel aggregate" + (", log2 buckets" if not counter else "") + f": {h.query.spec})"
    return MetricName(family, "counter" if counter else "histogram", help_text, fixed, label)


def check_names(existing: list[MetricName], new: MetricName, spec: str) -> None:
    """BadInput unless `new` can join /metrics beside `existing`: in a shared
    family, the same labels and type, and its own fixed label values."""
    for old in existing:
        if old.family != new.family:
            continue
        if old.shape != new.shape or old.type != new.type:
            raise BadInput(f"aggregate {spec!r} would export {new.family} with other labels than an aggregate "
                           "already there; give it its own name= (or the same by=)")  # fmt: skip
        if old.fixed == new.fixed:
            raise BadInput(f"aggregate {spec!r} would export the same series of {new.family} as an aggregate "
                           "already there; give it its own name=")  # fmt: skip
