"""Event names as users type them (perf's spelling) -> (type, config).

Numeric values come from the kernel's BTF enums (attr.constants()); this
module only holds perf's user-facing names for them, which BTF cannot know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._perf.attr import constants
from ..errors import BadInput
from ..tracefs import TRACEFS, has_wildcard, strip_prefix
from ..tracefs import expand as tracefs_expand
from .tool import TOOL_EVENTS

__all__ = [
    "CACHE_NAMES",
    "HARDWARE",
    "SOFTWARE",
    "EventDesc",
    "cache_events",
    "expand",
    "parse_event",
    "parse_events",
    "resolve",
]

TRACEFS_EVENTS = TRACEFS / "events"

# perf name -> BTF enum constant; the first name of an enum value is canonical.
HARDWARE: dict[str, str] = {
    "cycles": "PERF_COUNT_HW_CPU_CYCLES",
    "cpu-cycles": "PERF_COUNT_HW_CPU_CYCLES",
    "instructions": "PERF_COUNT_HW_INSTRUCTIONS",
    "cache-references": "PERF_COUNT_HW_CACHE_REFERENCES",
    "cache-misses": "PERF_COUNT_HW_CACHE_MISSES",
    "branches": "PERF_COUNT_HW_BRANCH_INSTRUCTIONS",
    "branch-instructions": "PERF_COUNT_HW_BRANCH_INSTRUCTIONS",
    "branch-misses": "PERF_COUNT_HW_BRANCH_MISSES",
    "bus-cycles": "PERF_COUNT_HW_BUS_CYCLES",
    "stalled-cycles-frontend": "PERF_COUNT_HW_STALLED_CYCLES_FRONTEND",
    "stalled-cycles-backend": "PERF_COUNT_HW_STALLED_CYCLES_BACKEND",
    "ref-cycles": "PERF_COUNT_HW_REF_CPU_CYCLES",
}
SOFTWARE: dict[str, str] = {
    "cpu-clock": "PERF_COUNT_SW_CPU_CLOCK",
    "task-clock": "PERF_COUNT_SW_TASK_CLOCK",
    "page-faults": "PERF_COUNT_SW_PAGE_FAULTS",
    "faults": "PERF_COUNT_SW_PAGE_FAULTS",
    "context-switches": "PERF_COUNT_SW_CONTEXT_SWITCHES",
    "cs": "PERF_COUNT_SW_CONTEXT_SWITCHES",
    "cpu-migrations": "PERF_COUNT_SW_CPU_MIGRATIONS",
    "migrations": "PERF_COUNT_SW_CPU_MIGRATIONS",
    "minor-faults": "PERF_COUNT_SW_PAGE_FAULTS_MIN",
    "major-faults": "PERF_COUNT_SW_PAGE_FAULTS_MAJ",
    "alignment-faults": "PERF_COUNT_SW_ALIGNMENT_FAULTS",
    "emulation-faults": "PERF_COUNT_SW_EMULATION_FAULTS",
    "dummy": "PERF_COUNT_SW_DUMMY",
    "bpf-output": "PERF_COUNT_SW_BPF_OUTPUT",
    "cgroup-switches": "PERF_COUNT_SW_CGROUP_SWITCHES",
}
# perf's cache names (tools/perf/util/evsel.c spelling) -> BTF enum suffix.
CACHE_NAMES: dict[str, str] = {
    "L1-dcache": "L1D", "L1-icache": "L1I", "LLC": "LL", "dTLB": "DTLB",
    "iTLB": "ITLB", "branch": "BPU", "node": "NODE",
}  # fmt: skip
_CACHE_OPS = {"load": "READ", "store": "WRITE", "prefetch": "PREFETCH"}
_MODIFIERS = set("ukhHGp")


@dataclass(frozen=True)
class EventDesc:
    """One resolved event: what perf_event_attr.type/config it opens."""

    name: str  # as the user wrote it, modifiers included
    kind: str  # hardware | software | cache | tracepoint
    type: int
    config: int
    exclude_user: bool = False
    exclude_kernel: bool = False


def cache_events() -> dict[str, tuple[str, str, str]]:
    """perf cache event name -> (cache, op, result) enum suffixes."""
    out = {}
    for cname, cid in CACHE_NAMES.items():
        for opname, op in _CACHE_OPS.items():
            out[f"{cname}-{opname}s"] = (cid, op, "ACCESS")
            out[f"{cname}-{opname}-misses"] = (cid, op, "MISS")
    return out


def _cache_config(cache: str, op: str, result: str) -> int:
    c = constants()
    return (
        c[f"PERF_COUNT_HW_CACHE_{cache}"]
        | c[f"PERF_COUNT_HW_CACHE_OP_{op}"] << 8
        | c[f"PERF_COUNT_HW_CACHE_RESULT_{result}"] << 16
    )


def tracepoint_id(category: str, name: str) -> int | None:
    """The tracepoint's id from tracefs, or None when it does not exist."""
    if not re.fullmatch(r"[\w.-]+", category) or not re.fullmatch(r"[\w.-]+", name):
        return None
    try:
        return int((TRACEFS_EVENTS / category / name / "id").read_text())
    except (OSError, ValueError):
        return None


def resolve(base: str) -> tuple[str, int, int] | None:
    """(kind, type, config) of an event name without modifiers, or None.
    Tool events (duration_time...) are not kernel events: type is -1."""
    c = constants()
    if base in HARDWARE:
        return "hardware", c["PERF_TYPE_HARDWARE"], c[HARDWARE[base]]
    if base in SOFTWARE:
        return "software", c["PERF_TYPE_SOFTWARE"], c[SOFTWARE[base]]
    if base in TOOL_EVENTS:
        return "tool", -1, list(TOOL_EVENTS).index(base)
    caches = cache_events()
    if base in caches:
        return "cache", c["PERF_TYPE_HW_CACHE"], _cache_config(*caches[base])
    base = strip_prefix(base)  # tracepoint:SYS:NAME, as trace takes it
    if ":" in base:
        tp = tracepoint_id(*base.split(":", 1))
        if tp is not None:
            return "tracepoint", c["PERF_TYPE_TRACEPOINT"], tp
    return None


def _split_modifiers(text: str) -> tuple[str, str]:
    """`name:uk` -> ("name", "uk"); ("name", "") when there are none."""
    base, sep, mods = text.rpartition(":")
    if sep and base and mods and set(mods) <= _MODIFIERS:
        return base, mods
    return text, ""


def parse_event(text: str, group_mods: str = "") -> EventDesc:
    """`name`, `name:u`, `name:k`, `SYS:NAME` or `tracepoint:SYS:NAME`;
    `group_mods` are the modifiers of an enclosing `{...}:mods` group."""
    text = text.strip()
    found = resolve(text)
    mods = ""
    if found is None:
        base, mods = _split_modifiers(text)
        if mods:
            found = resolve(base)
    if found is None:
        raise BadInput(f"unknown event '{text}' (see ringscope list)")
    kind, type_, config = found
    mods += group_mods
    name = strip_prefix(text) + (f":{group_mods}" if group_mods else "")
    # perf's u/k modifiers: count only user (u) or only kernel (k) mode.
    only_user, only_kernel = "u" in mods and "k" not in mods, "k" in mods and "u" not in mods
    if kind == "tool" and mods:
        raise BadInput(f"'{text}': a tool event takes no modifiers (it is not counted by the kernel)")
    return EventDesc(name, kind, type_, config, exclude_user=only_kernel, exclude_kernel=only_user)


def expand(name: str) -> list[str]:
    """`name`, or the tracepoints a name with wildcards matches (modifiers
    kept): `sched:sched_process_*:k` -> [sched:sched_process_exec:k, ...]."""
    if not has_wildcard(name):
        return [name]
    base, mods = _split_modifiers(name)
    specs = tracefs_expand(base)
    if specs is None:
        raise BadInput(f"unknown event '{name}': wildcards match tracepoints only (SYS:NAME)")
    return [s.removeprefix("tracepoint:") + (f":{mods}" if mods else "") for s in specs]


def _split_top(spec: str) -> list[str]:
    """Split on commas outside {...} groups."""
    parts, depth, cur = [], 0, ""
    for ch in spec:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise BadInput(f"bad event list '{spec}': unbalanced '}}'")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if depth:
        raise BadInput(f"bad event list '{spec}': unbalanced '{{'")
    return [*parts, cur]


def _group(part: str, spec: str) -> list[EventDesc]:
    """`{a,b}` or `{a,b}:mods`: one group, the modifiers applied to each."""
    inner, _, tail = part[1:].rpartition("}")
    mods = tail.removeprefix(":") if tail.startswith(":") else tail
    if "{" in inner or (tail and not (tail.startswith(":") and mods and set(mods) <= _MODIFIERS)):
        raise BadInput(f"bad event group '{part}' in '{spec}' (expected {{a,b}} or {{a,b}}:u)")
    members = [e for p in inner.split(",") if p.strip() for e in expand(p.strip())]
    if not members:
        raise BadInput(f"bad event list '{spec}': empty group")
    return [parse_event(m, mods) for m in members]


def parse_events(specs: list[str]) -> list[list[EventDesc]]:
    """-e values -> event groups. `{a,b}` is one group (scheduled on the PMU
    together, so their ratios are exact); a bare event is a group of one, and
    a tracepoint name with wildcards one group per tracepoint it matches."""
    groups: list[list[EventDesc]] = []
    for spec in specs:
        for part in _split_top(spec):
            part = part.strip()
            if not part:
                raise BadInput(f"bad event list '{spec}': empty event name")
            if part.startswith("{"):
                groups.append(_group(part, spec))
            else:
                groups += [[parse_event(name)] for name in expand(part)]
    if not groups:
        raise BadInput("no events given")
    return groups
