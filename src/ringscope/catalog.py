"""The event catalogue: ringscope's stream events and whether this kernel
can produce them, derived from the programs' section names; and the probe
points of a binary (its functions for uprobes, its USDT notes)."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from . import features
from ._libbpf import BpfObject
from .errors import BadInput, RingscopeError
from .events.spec import EventSpec
from .objects import object_path
from .sources import EVENTS
from .sources.funcprobe import find_binary, functions
from .sources.usdt import read_notes
from .tracefs import TRACEFS

__all__ = ["PROBE_KINDS", "probe_points", "stream_events", "why_unavailable"]

PROBE_KINDS = ("uprobe", "uretprobe", "usdt")


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


def probe_points(spec: str) -> list[dict[str, Any]]:
    """The probe points `uprobe:BIN[:GLOB]`, `uretprobe:BIN[:GLOB]` or
    `usdt:BIN[:GLOB]` names: BIN's functions (symtab, dynsym, debug file), or its
    USDT probes (GLOB matches PROVIDER:NAME); each as a catalogue entry
    whose name is the spec to pass to -e."""
    kind, _, rest = spec.partition(":")
    binary, _, pattern = rest.partition(":")
    if kind not in PROBE_KINDS or not binary:
        raise BadInput(f"bad probe listing {spec!r} (expected uprobe:BINARY[:GLOB] or usdt:BINARY[:GLOB])")
    path = find_binary(binary)
    reason = features.probe().uprobes.reason
    if kind == "usdt":
        names = sorted({f"{n.provider}:{n.name}" for n in read_notes(path)})
        what = f"USDT probe in {path}"
    else:
        names = functions(path)
        what = f"function in {path}"
    return [{"name": f"{kind}:{binary}:{n}", "kind": kind, "description": what, "available": not reason,
             "reason": reason} for n in names if fnmatchcase(n, pattern or "*")]  # fmt: skip
