"""What a stream event is made of: the BPF object and programs that produce
it, the C struct it is written as, and the Python touch-up of decoded rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]

__all__ = ["EventSpec", "Row"]


@dataclass(frozen=True)
class EventSpec:
    name: str  # stream name: "exec", "open", ...
    obj: str  # bpf/<obj>.bpf.c
    programs: tuple[str, ...]  # programs to load and attach for this event
    struct: str  # C struct in events.h
    enum: str  # enum rs_event_type member
    doc: str
    finish: Callable[[list[Row]], None] | None = field(default=None, compare=False)
    raw_fields: tuple[str, ...] = ()  # char arrays handed to `finish` as bytes
