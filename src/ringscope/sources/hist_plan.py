"""From a HistQuery and its resolved event to what hist.bpf.c must run:
the programs, the hooks they attach to, the rodata configuration, and how
the map's keys read back. The one place that decides which parameter fits
which event; it loads nothing.

    runqlat                       sched_wakeup(_new) -> sched_switch, per task
    SYS:NAME                      count, by comm|pid|tid|FIELD; value=FIELD
    syscalls:sys_enter_X?latency=1  sys_enter_X -> sys_exit_X per thread
    raw_syscalls:sys_enter?latency=1&by=id   every syscall, labelled by name
    uprobe:BIN:FUNC               count, by argN; value=argN; latency=1
    uretprobe:BIN:FUNC            latency; value=ret
    usdt:BIN:PROVIDER:NAME        count, by argN; value=argN
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import BadInput
from ..objects import object_btf
from ..tracefs import TpField
from .dynamic import DynamicSpec
from .hist_query import RUNQLAT, HistQuery
from .tracepoint import TracepointSpec
from .tracepoint import resolve as resolve_tracepoint
from .uprobe import UprobeSpec
from .usdt import UsdtSpec

__all__ = ["RUNQLAT", "Hook", "Plan", "plan"]

_CURRENT = ("comm", "pid", "tid")
_UPROBE_ARGS = 5  # hist.bpf.c's arg() reads the first five
_SYSCALL_NR = {("raw_syscalls", "id"), ("syscalls", "__syscall_nr")}


@dataclass(frozen=True)
class Hook:
    """One attachment: a program on a tracepoint, on a uprobe, on every
    location of a USDT probe, or on the hook its own SEC names."""

    program: str
    tracepoint: tuple[str, str] | None = None
    uprobe: tuple[str, int, bool] | None = None  # binary, file offset, retprobe
    usdt: UsdtSpec | None = None


@dataclass(frozen=True)
class Plan:
    kind: str  # "count" or "log2"
    unit: str  # of log2 values: "nsecs", "bytes" or ""; "" for counts
    hooks: tuple[Hook, ...]
    rodata: dict[str, int] = field(default_factory=dict)
    label: str | None = None  # the key's label name; None: one key, no label
    key: str = "none"  # how keys read back: none, comm, int, signed, syscall
    key_bits: int = 64
    needs_tp_btf: bool = False

    @property
    def programs(self) -> frozenset[str]:
        return frozenset(h.program for h in self.hooks)


def _enum(name: str, short: str) -> int:
    """A value of a hist.bpf.c enum by its short name: ("rs_hist_by", "pid") -> RS_BY_PID."""
    prefix = {"rs_hist_by": "RS_BY_", "rs_hist_value": "RS_VALUE_"}[name]
    return object_btf("hist").enum_values(name)[prefix + short.upper()]


def _current_by(q: HistQuery, allowed: tuple[str, ...]) -> tuple[dict[str, int], str | None, str]:
    """rodata, label and key decoding for by=comm|pid|tid (or no by)."""
    if q.by is None:
        return {"rs_by": _enum("rs_hist_by", "none")}, None, "none"
    if q.by in _CURRENT:
        return {"rs_by": _enum("rs_hist_by", q.by)}, q.by, "comm" if q.by == "comm" else "int"
    raise BadInput(f"{q.event}: cannot group by {q.by!r} (choose from {', '.join(allowed)})")


def _arg_index(q: HistQuery, text: str, what: str, nargs: int) -> int:
    if text[:3] == "arg" and text[3:].isdigit() and int(text[3:]) < nargs:
        return int(text[3:])
    raise BadInput(f"{q.event}: {what} {text!r} must be arg0..arg{nargs - 1}")


def plan(q: HistQuery, spec: DynamicSpec | None) -> Plan:
    """The plan for `q` on its resolved event (None: runqlat). BadInput when
    a parameter does not fit the event."""
    if spec is None:
        return _runqlat(q)
    if isinstance(spec, TracepointSpec):
        return _syscall_latency(q, spec) if q.latency else _tracepoint(q, spec)
    if isinstance(spec, UsdtSpec):
        return _usdt(q, spec)
    if isinstance(spec, UprobeSpec):
        return _uprobe(q, spec)
    raise BadInput(
        f"aggregates take tracepoints, uprobes, uretprobes, USDT probes and runqlat, not {q.event!r}"
    )


def _runqlat(q: HistQuery) -> Plan:
    if q.value is not None:
        raise BadInput("runqlat is a latency histogram: value= does not apply")
    rodata, label, key = _current_by(q, _CURRENT)
    hooks = (Hook("hist_wakeup"), Hook("hist_wakeup_new"), Hook("hist_switch"), Hook("hist_thread_exit"))
    return Plan("log2", "nsecs", hooks, rodata, label, key, needs_tp_btf=True)


# -- tracepoints ----------------------------------------------------------------


def _groupable(f: TpField) -> bool:
    """An integer field (not an array, a string or a pointer)."""
    plain = not (f.nelems or f.is_data_loc or f.is_rel_loc or "*" in f.ctype)
    return plain and f.size in (1, 2, 4, 8)


def _field(q: HistQuery, spec: TracepointSpec, name: str, what: str) -> TpField:
    f = next((f for f in spec.format.fields if f.name == name and not f.is_common), None)
    if f is None or not _groupable(f):
        fields = [g.name for g in spec.format.fields if _groupable(g) and not g.is_common]
        extra = "; or comm, pid, tid" if what == "by" else ""
        raise BadInput(f"{what}={name!r}: not an integer field of {spec.format.full_name} "
                       f"(fields: {', '.join(fields)}{extra})")  # fmt: skip
    return f


def _tp_key(q: HistQuery, spec: TracepointSpec) -> tuple[dict[str, int], str | None, str, int]:
    """rodata, label, key decoding and key bits for by= on a tracepoint."""
    if q.by is None or q.by in _CURRENT:
        return (*_current_by(q, _CURRENT), 64)
    f = _field(q, spec, q.by.removeprefix("tp_"), "by")
    rodata = {"rs_by": _enum("rs_hist_by", "field"), "rs_key_off": f.offset, "rs_key_size": f.size}
    if (spec.format.system, f.name) in _SYSCALL_NR:
        return rodata, "syscall", "syscall", 8 * f.size
    return rodata, f.name, "signed" if f.signed else "int", 8 * f.size


def _tracepoint(q: HistQuery, spec: TracepointSpec) -> Plan:
    rodata, label, key, bits = _tp_key(q, spec)
    hook = (Hook("hist_tp", tracepoint=(spec.format.system, spec.format.name)),)
    if q.value is None:
        return Plan("count", "", hook, rodata, label, key, bits)
    f = _field(q, spec, q.value, "value")
    rodata |= {"rs_value": _enum("rs_hist_value", "field"), "rs_val_off": f.offset, "rs_val_size": f.size,
               "rs_val_signed": int(f.signed)}  # fmt: skip
    return Plan("log2", _unit(q), hook, rodata, label, key, bits)


def _unit(q: HistQuery) -> str:
    return "bytes" if q.unit == "bytes" else ""


def syscall_pair(system: str, name: str) -> tuple[str, str] | None:
    """(enter, exit) tracepoint names for a syscall tracepoint, else None."""
    if system == "raw_syscalls" and name in ("sys_enter", "sys_exit"):
        return "sys_enter", "sys_exit"
    for side in ("sys_enter_", "sys_exit_"):
        if system == "syscalls" and name.startswith(side):
            nr = name.removeprefix(side)
            return f"sys_enter_{nr}", f"sys_exit_{nr}"
    return None


def _syscall_latency(q: HistQuery, spec: TracepointSpec) -> Plan:
    system, name = spec.format.system, spec.format.name
    pair = syscall_pair(system, name)
    if pair is None:
        raise BadInput(f"latency=1 on a tracepoint pairs a syscall's entry with its exit: use "
                       f"syscalls:sys_enter_NAME or raw_syscalls:sys_enter, not {system}:{name}")  # fmt: skip
    resolve_tracepoint(
        system, pair[1] if name == pair[0] else pair[0]
    )  # BadInput if the other half is missing
    rodata, label, key, bits = _tp_key(q, spec)
    rodata["rs_key_at_exit"] = int(name == pair[1])
    hooks = (Hook("hist_tp_enter", tracepoint=(system, pair[0])), Hook("hist_tp_exit", tracepoint=(system, pair[1])),
             Hook("hist_thread_exit"))  # fmt: skip
    return Plan("log2", "nsecs", hooks, rodata, label, key, bits)


# -- uprobes and USDT ---------------------------------------------------------------


def _uprobe(q: HistQuery, spec: UprobeSpec) -> Plan:
    at = (spec.binary, spec.offset)
    if spec.retprobe and q.value == "ret":
        rodata, label, key = _current_by(q, _CURRENT)
        rodata |= {"rs_value": _enum("rs_hist_value", "ret"), "rs_val_signed": 1}
        return Plan("log2", _unit(q), (Hook("hist_uret", uprobe=(*at, True)),), rodata, label, key)
    if q.latency or spec.retprobe:
        if q.value is not None:
            raise BadInput(f"{q.event}: a uretprobe takes value=ret, or latency (the default)")
        rodata, label, key = _current_by(q, _CURRENT)
        hooks = (Hook("hist_uentry", uprobe=(*at, False)), Hook("hist_uret", uprobe=(*at, True)),
                 Hook("hist_thread_exit"))  # fmt: skip
        return Plan("log2", "nsecs", hooks, rodata, label, key)
    rodata, label, key = _arg_by(q, _UPROBE_ARGS)
    hook = (Hook("hist_uprobe", uprobe=(*at, False)),)
    if q.value is None:
        return Plan("count", "", hook, rodata, label, key)
    i = _arg_index(q, q.value, "value", _UPROBE_ARGS)
    rodata |= {"rs_value": _enum("rs_hist_value", "arg"), "rs_val_arg": i, "rs_val_signed": 1}
    return Plan("log2", _unit(q), hook, rodata, label, key)


def _arg_by(q: HistQuery, nargs: int) -> tuple[dict[str, int], str | None, str]:
    if q.by is None or q.by in _CURRENT:
        return _current_by(q, (*_CURRENT, f"arg0..arg{nargs - 1}"))
    i = _arg_index(q, q.by, "by", nargs)
    return {"rs_by": _enum("rs_hist_by", "arg"), "rs_key_arg": i}, q.by, "signed"


def _usdt(q: HistQuery, spec: UsdtSpec) -> Plan:
    if q.latency:
        raise BadInput(f"{q.event}: a USDT probe has no return to time; count it or take value=argN")
    nargs = max((len(n.args) for n in spec.notes), default=0)
    if nargs == 0 and (q.value or (q.by or "").startswith("arg")):
        raise BadInput(f"{q.event}: this probe has no arguments")
    rodata, label, key = _arg_by(q, max(nargs, 1))
    hook = (Hook("hist_usdt", usdt=spec),)
    if q.value is None:
        return Plan("count", "", hook, rodata, label, key)
    i = _arg_index(q, q.value, "value", nargs)
    rodata |= {"rs_value": _enum("rs_hist_value", "arg"), "rs_val_arg": i, "rs_val_signed": 1}
    return Plan("log2", _unit(q), hook, rodata, label, key)
