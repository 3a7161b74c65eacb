"""perf_events from Python: counting (`perf stat`) and sampling (`perf
record`/`report`/`script`/`top`). Everything goes through perf_event_open(2)
with a perf_event_attr laid out from the kernel's BTF; samples come from
the per-CPU perf rings with the mapping records that symbolize them, or,
in the low-overhead aggregate mode, are counted in the kernel by
bpf/profile.bpf.c.

    from ringscope.perf import stat, record, profile_for, report
    res = stat(["task-clock", "page-faults"], argv=["make"])
    profile, _ = record(argv=["./app"], freq=999, callgraph="dwarf")
    prof = profile_for(2.0, pid=1234, callgraph="fp")   # S seconds of one process
    prof = profile_for(2.0)                              # ... or of every CPU
    print(report.text(profile, "sym"))
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..command import Command
    from . import report
    from .callgraph import CallGraph, parse_callgraph
    from .counting import CounterSet, Reading
    from .events import EventDesc, parse_event, parse_events
    from .profile import Profile
    from .record import profile_for, record
    from .ringsampler import RingSampler
    from .sampling import Profiler
    from .stat import DEFAULT_EVENTS, StatResult, stat
    from .target import Target

# Names are imported on first use (PEP 562): `ringscope report` needs the
# profile and report modules, not the BPF loader or the counting code, and
# every import is start-up time a command pays.
_LAZY = {
    "report": ".report", "CallGraph": ".callgraph", "parse_callgraph": ".callgraph",
    "CounterSet": ".counting", "Reading": ".counting", "EventDesc": ".events", "parse_event": ".events",
    "parse_events": ".events", "Profile": ".profile", "profile_for": ".record", "record": ".record",
    "RingSampler": ".ringsampler", "Profiler": ".sampling", "DEFAULT_EVENTS": ".stat",
    "StatResult": ".stat", "stat": ".stat", "Command": "..command", "Target": ".target",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    mod = import_module(_LAZY[name], __name__)
    value = mod if name == "report" else getattr(mod, name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_EVENTS",
    "CallGraph",
    "Command",
    "CounterSet",
    "EventDesc",
    "Profile",
    "Profiler",
    "Reading",
    "RingSampler",
    "StatResult",
    "Target",
    "parse_callgraph",
    "parse_event",
    "parse_events",
    "profile_for",
    "record",
    "report",
    "stat",
]
