"""The perf half of `ringscope list`: hardware, software, cache, tool and
tracepoint events, each with whether this machine can count it.

Availability is probed the truthful way: open the event on ourselves,
disabled, and close it at once (a VM without a PMU answers ENOENT).
Tracepoints are listed from tracefs; having an id there is what
perf_event_open needs, so they are not opened one by one.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Collection
from typing import Any

from .._perf import syscall
from .._perf.attr import PerfEventAttr, constants
from ..errors import RingscopeError
from .events import HARDWARE, SOFTWARE, TRACEFS_EVENTS, cache_events, resolve
from .tool import TOOL_EVENTS

__all__ = ["KINDS", "catalog", "probe_event"]

_REASONS = {
    errno.ENOENT: "no such event on this machine (no hardware PMU?)",
    errno.EOPNOTSUPP: "not supported by this PMU",
    errno.ENODEV: "no PMU for it",
    errno.EINVAL: "the PMU rejects this config",
    errno.EACCES: "needs root or CAP_PERFMON",
    errno.EPERM: "needs root or CAP_PERFMON",
}


def probe_event(type_: int, config: int) -> str:
    """Empty when this process can open the event, else why not."""
    # Non-root under perf_event_paranoid=2 may still count its own user mode.
    attr = PerfEventAttr(type=type_, config=config, disabled=1, exclude_kernel=int(os.geteuid() != 0))
    try:
        fd = syscall.open_event(bytes(attr), 0, -1)
    except OSError as e:
        err = e.errno or errno.EINVAL
        return _REASONS.get(err, f"perf_event_open: {os.strerror(err)}")
    os.close(fd)
    return ""


def _entry(name: str, kind: str, description: str, reason: str) -> dict[str, Any]:
    return {"name": name, "kind": kind, "description": description, "available": not reason, "reason": reason}


def _counted(names: list[str], kind: str, description: str) -> list[dict[str, Any]]:
    out = []
    for name in names:
        found = resolve(name)
        assert found is not None
        _, type_, config = found
        out.append(_entry(name, kind, description, probe_event(type_, config)))
    return out


def _tracepoints() -> list[dict[str, Any]]:
    try:
        cats = sorted(os.listdir(TRACEFS_EVENTS))
    except OSError:
        return []
    out = []
    for cat in cats:
        cat_dir = TRACEFS_EVENTS / cat
        if not cat_dir.is_dir():
            continue
        for name in sorted(os.listdir(cat_dir)):
            if (cat_dir / name / "id").exists():
                out.append(_entry(f"{cat}:{name}", "tracepoint", "Tracepoint event", ""))
    return out


def _tools() -> list[dict[str, Any]]:
    return [_entry(name, "tool", "Tool event", "") for name in TOOL_EVENTS]


KINDS = ("hardware", "software", "cache", "tool", "tracepoint")


def catalog(kinds: Collection[str] = KINDS) -> list[dict[str, Any]]:
    """Every perf event ringscope knows of `kinds`: {name, kind, description,
    available, reason}; kind is hardware | software | cache | tool | tracepoint.
    Only the kinds asked for are probed."""
    try:
        constants()
    except RingscopeError as e:
        return [_entry(n, "software", "Software event", str(e)) for n in SOFTWARE if "software" in kinds]
    out: list[dict[str, Any]] = []
    if "hardware" in kinds:
        out += _counted(list(HARDWARE), "hardware", "Hardware event")
    if "software" in kinds:
        out += _counted(list(SOFTWARE), "software", "Software event")
    if "cache" in kinds:
        out += _counted(list(cache_events()), "cache", "Hardware cache event")
    if "tool" in kinds:
        out += _tools()
    if "tracepoint" not in kinds:
        return out
    if not TRACEFS_EVENTS.exists():
        out.append(_entry("tracepoints", "tracepoint", "Tracepoint events", "tracefs is not mounted"))
        return out
    return out + _tracepoints()
