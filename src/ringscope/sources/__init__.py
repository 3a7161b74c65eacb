"""The stream events ringscope can produce, one module per BPF object."""

from __future__ import annotations

from . import file, net, process, sched, syscalls
from .spec import EventSpec, Row

EVENTS: dict[str, EventSpec] = {s.name: s for mod in (process, file, net, sched, syscalls) for s in mod.SPECS}
DEFAULT_EVENTS = ("exec", "exit", "open", "connect")

__all__ = ["DEFAULT_EVENTS", "EVENTS", "EventSpec", "Row"]
