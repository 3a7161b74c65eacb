"""The event catalogue: ringscope's stream events and whether this kernel
can produce them, derived from the programs' section names."""

from __future__ import annotations

from typing import Any

from . import features
from ._libbpf import BpfObject
from .errors import RingscopeError
from .events.spec import EventSpec
from .objects import object_path
from .sources import EVENTS
from .tracefs import TRACEFS

__all__ = ["stream_events", "why_unavailable"]


def why_unavailable(spec: EventSpec) -> str:
    """Empty if this kernel can run every program of `spec`, else the reason."""
    feats = features.probe()
    for f in (feats.btf, feats.ringbuf):
        if not f.available:
            return f.reason
    try:
        with BpfObject.open(object_path(spec.obj)) as obj:
            sections = [obj.program(p).section for p in spec.programs]
    except RingscopeError as e:
        return str(e)
    for sec in sections:
        kind, _, hook = sec.partition("/")
        if kind == "tp_btf" and not feats.tp_btf.available:
            return feats.tp_btf.reason
        if kind == "tp" and not (TRACEFS / "events" / hook).exists():
            return f"no tracepoint {hook.replace('/', ':')} on this kernel"
    return ""


def stream_events() -> list[dict[str, Any]]:
    out = []
    for spec in EVENTS.values():
        reason = why_unavailable(spec)
        out.append({"name": spec.name, "kind": "stream", "description": spec.doc,
                    "available": not reason, "reason": reason})  # fmt: skip
    return out
