"""perf_events from Python: counting (`perf stat`) and sampling (`perf
record`), independent of libbpf for counting. Everything goes through
perf_event_open(2) with a perf_event_attr laid out from the kernel's BTF."""

from .counting import CounterSet, Reading
from .events import EventDesc, parse_event, parse_events
from .stat import DEFAULT_EVENTS, StatResult, stat
from .target import Command, Target

__all__ = [
    "DEFAULT_EVENTS",
    "Command",
    "CounterSet",
    "EventDesc",
    "Reading",
    "StatResult",
    "Target",
    "parse_event",
    "parse_events",
    "stat",
]
