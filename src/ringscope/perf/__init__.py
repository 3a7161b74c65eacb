"""perf_events from Python: counting (`perf stat`) and sampling (`perf
record`/`report`/`top`). Everything goes through perf_event_open(2) with a
perf_event_attr laid out from the kernel's BTF; sampling aggregates stacks
in the kernel with bpf/profile.bpf.c.

    from ringscope.perf import stat, record, report
    res = stat(["task-clock", "page-faults"], argv=["make"])
    profile, _ = record(argv=["./app"], freq=999, callchain=True)
    print(report.text(profile, "sym"))
"""

from ..command import Command
from . import report
from .counting import CounterSet, Reading
from .events import EventDesc, parse_event, parse_events
from .profile import Profile, Sample
from .record import record
from .sampling import Profiler
from .stat import DEFAULT_EVENTS, StatResult, stat
from .target import Target

__all__ = [
    "DEFAULT_EVENTS",
    "Command",
    "CounterSet",
    "EventDesc",
    "Profile",
    "Profiler",
    "Reading",
    "Sample",
    "StatResult",
    "Target",
    "parse_event",
    "parse_events",
    "record",
    "report",
    "stat",
]
