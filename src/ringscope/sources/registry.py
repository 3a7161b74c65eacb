"""Event names -> EventSpecs: the static events of each source module, and
probe specs (`tracepoint:...`, `uprobe:...`, ...) parsed and resolved by the
module that implements them. The one place that knows every source."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import BadInput
from ..events.spec import EventSpec
from ..tracefs import TRACEPOINT_PREFIXES, expand
from . import file, kprobe, net, process, sched, syscalls, tracepoint, uprobe, usdt
from .dynamic import DynamicSpec

__all__ = [
    "DEFAULT_EVENTS",
    "EVENTS",
    "FOLLOW",
    "is_probe_spec",
    "resolve",
    "resolve_events",
    "resolve_probe",
]

EVENTS: dict[str, EventSpec] = {s.name: s for mod in (process, file, net, sched, syscalls) for s in mod.SPECS}
DEFAULT_EVENTS = ("exec", "exit", "open", "connect")
FOLLOW = process.FOLLOW  # what a session loads to follow a process tree (trace -- CMD)

_PREFIXES = {
    **dict.fromkeys(TRACEPOINT_PREFIXES, "tracepoint"),
    "uprobe": "uprobe", "u": "uprobe", "uretprobe": "uretprobe", "ur": "uretprobe",
    "kprobe": "kprobe", "k": "kprobe", "kretprobe": "kretprobe", "kr": "kretprobe",
    "fentry": "fentry", "f": "fentry", "fexit": "fexit", "fr": "fexit", "usdt": "usdt",
}  # fmt: skip


def is_probe_spec(name: str) -> bool:
    """True for probe specs (they contain ':'); static events are bare names."""
    return ":" in name


def resolve(name: str) -> EventSpec:
    """The spec of one event name (static or probe spec). BadInput for an
    unknown or malformed one, NotSupported when this kernel cannot run it."""
    name = name.strip()
    spec = EVENTS.get(name)
    if spec is not None:
        return spec
    if is_probe_spec(name):
        return resolve_probe(name)
    raise BadInput(f"unknown event {name!r} (see ringscope list)")


def resolve_events(names: Iterable[str]) -> list[EventSpec]:
    """Specs for a list of names, in order, without duplicates; tracepoint
    globs (`sched:sched_process_*`) name every tracepoint they match."""
    specs: list[EventSpec] = []
    for name in (n for given in names for n in expand(given.strip()) or [given]):
        if not name.strip():
            continue
        spec = resolve(name)
        if spec not in specs:
            specs.append(spec)
    if not specs:
        raise BadInput("no events selected")
    return specs


def resolve_probe(name: str) -> DynamicSpec:
    """Parse and check one probe spec. BadInput for malformed or unknown
    targets, NotSupported when this kernel cannot run the probe type."""
    kind, _, rest = name.strip().partition(":")
    family = _PREFIXES.get(kind)
    if family is None:
        # SUBSYS:NAME is a tracepoint (perf's spelling).
        if rest and ":" not in rest:
            return tracepoint.resolve(kind, rest)
        raise BadInput(f"malformed probe spec {name!r} (expected tracepoint:SUBSYS:NAME, uprobe:BIN:FUNC)")
    if family == "tracepoint":
        system, sep, tp = rest.partition(":")
        if not (system and sep and tp) or ":" in tp:
            raise BadInput(f"malformed tracepoint spec {name!r} (expected tracepoint:SUBSYS:NAME)")
        return tracepoint.resolve(system, tp)
    if family in ("uprobe", "uretprobe"):
        binary, sep, func = rest.rpartition(":")
        if not (binary and sep and func):
            raise BadInput(f"malformed probe spec {name!r} (expected {family}:BINARY:FUNCTION)")
        return uprobe.resolve(family, binary, func)
    if family == "usdt":
        parts = rest.rsplit(":", 2)
        if len(parts) != 3 or not all(parts):
            raise BadInput(f"malformed probe spec {name!r} (expected usdt:BINARY:PROVIDER:NAME)")
        return usdt.resolve(*parts)
    if not rest or ":" in rest:
        raise BadInput(f"malformed probe spec {name!r} (expected {family}:FUNCTION)")
    return kprobe.resolve(family, rest)
