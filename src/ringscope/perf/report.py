"""Turn a Profile into what people read: a perf-report-like table with an
optional call graph, folded stacks (flamegraph.pl), speedscope JSON, or a
self-contained SVG flame graph (see flamegraph.py)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass

from ..errors import BadInput
from ..symbols.resolver import KERNEL_DSO, UNKNOWN, Frame, Symbolizer
from .profile import Profile

__all__ = ["SORT_KEYS", "Stack", "folded", "resolve", "speedscope", "text"]

SORT_KEYS = ("comm", "dso", "sym")
SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"


@dataclass(frozen=True)
class Stack:
    """One symbolized stack, root first, with its sample count."""

    comm: str
    pid: int
    count: int
    frames: tuple[Frame, ...]

    @property
    def leaf(self) -> Frame:
        return self.frames[-1] if self.frames else Frame(UNKNOWN, UNKNOWN, False)


def resolve(profile: Profile) -> list[Stack]:
    """Symbolize every sample. Non-leaf frames are return addresses: look
    up addr-1 so a call that ends a function names its caller."""
    sym = Symbolizer(profile.maps, profile.build_ids)
    out = []
    for s in profile.samples:
        frames: list[Frame] = []
        for a in s.kstack:
            name = profile.ksyms.get(a, UNKNOWN)
            frames.append(Frame(name, KERNEL_DSO, True))
        for i, a in enumerate(s.ustack):
            is_leaf = i == 0 and not s.kstack
            frames.append(sym.user(s.pid, a if is_leaf else a - 1))
        out.append(Stack(s.comm, s.pid, s.count, tuple(reversed(frames))))
    return out


def parse_sort(spec: str) -> list[str]:
    keys = [k.strip() for k in spec.split(",") if k.strip()]
    bad = [k for k in keys if k not in SORT_KEYS]
    if bad or not keys:
        raise BadInput(f"--sort {spec!r}: keys are {', '.join(SORT_KEYS)}")
    return keys


def _key(st: Stack, keys: list[str]) -> tuple[str, ...]:
    leaf = st.leaf
    parts = {
        "comm": st.comm,
        "dso": leaf.dso,
        "sym": f"[{'k' if leaf.kernel else '.'}] {leaf.name}",
    }
    return tuple(parts[k] for k in keys)


def _header(profile: Profile, total: int) -> list[str]:
    m, st = profile.meta, profile.stats
    rate = f"{m.get('freq')} Hz" if m.get("freq") else f"period {m.get('period')}"
    return [
        f"# ringscope report: {total} samples of event '{m.get('event')}' ({rate}), target {m.get('target')}",
        f"# lost: {st.get('lost_key', 0)} samples (counts map full); stacks not stored: "
        f"{st.get('kstack_err', 0)} kernel, {st.get('ustack_err', 0)} user",
        "#",
    ]


def text(profile: Profile, sort: str = "comm,dso,sym", callgraph: bool = False, limit: int = 0) -> str:
    """perf report --stdio, roughly: self overhead per sort key, hottest first."""
    keys = parse_sort(sort)
    stacks = resolve(profile)
    total = sum(s.count for s in stacks)
    by: Counter[tuple[str, ...]] = Counter()
    chains: dict[tuple[str, ...], Counter[tuple[str, ...]]] = defaultdict(Counter)
    for st in stacks:
        k = _key(st, keys)
        by[k] += st.count
        if callgraph:
            chains[k][tuple(f.name for f in reversed(st.frames))] += st.count
    titles = {"comm": "Command", "dso": "Shared Object", "sym": "Symbol"}
    widths = [max([len(titles[k])] + [len(key[i]) for key in by]) for i, k in enumerate(keys)]
    lines = _header(profile, total)
    heads = "  ".join(f"{titles[k]:<{w}}" for k, w in zip(keys, widths, strict=True))
    lines.append(f"# Overhead  {heads}".rstrip())
    lines.append("#")
    for key, count in by.most_common(limit or None):
        cols = "  ".join(f"{v:<{w}}" for v, w in zip(key, widths, strict=True))
        lines.append(f" {100.0 * count / total:8.2f}%  {cols}".rstrip())
        if callgraph:
            lines.extend(_callgraph(chains[key], total))
    if not total:
        lines.append("# no samples")
    return "\n".join(lines) + "\n"


def _callgraph(chains: Counter[tuple[str, ...]], total: int, top: int = 5) -> list[str]:
    """The hottest call chains into this entry, leaf first."""
    out = []
    for chain, count in chains.most_common(top):
        pad = " " * 12
        out.append(f"{pad}|--{100.0 * count / total:.2f}%-- {chain[0] if chain else UNKNOWN}")
        out.extend(f"{pad}|{' ' * 12}{name}" for name in chain[1:])
    out.append(f"{' ' * 12}|")
    return out


def _folded_name(f: Frame) -> str:
    name = f.name.replace(";", ":").replace(" ", "_")
    if f.name == UNKNOWN and f.dso not in (UNKNOWN, ""):
        name = f"[{f.dso}]"
    # flamegraph.pl's convention (stackcollapse-perf --kernel): _[k] marks kernel frames.
    return f"{name}_[k]" if f.kernel else name


def folded(profile: Profile) -> str:
    """flamegraph.pl input: `comm;root;...;leaf count`, one stack a line."""
    agg: Counter[str] = Counter()
    for st in resolve(profile):
        comm = st.comm.replace(";", ":").replace(" ", "_") or "[unknown]"
        agg[";".join([comm, *(_folded_name(f) for f in st.frames)])] += st.count
    return "".join(f"{stack} {count}\n" for stack, count in sorted(agg.items()))


def speedscope(profile: Profile, name: str = "ringscope") -> str:
    """speedscope's file format: one sampled profile, weights = sample counts."""
    frames: dict[tuple[str, str], int] = {}
    samples, weights = [], []
    for st in resolve(profile):
        idx = [frames.setdefault((st.comm, "[comm]"), len(frames))]
        idx += [frames.setdefault((f.name, f.dso), len(frames)) for f in st.frames]
        samples.append(idx)
        weights.append(st.count)
    total = sum(weights)
    doc = {
        "$schema": SPEEDSCOPE_SCHEMA,
        "shared": {"frames": [{"name": n, "file": d} for (n, d) in frames]},
        "profiles": [{
            "type": "sampled", "name": f"{profile.meta.get('event')} {profile.meta.get('target')}",
            "unit": "none", "startValue": 0, "endValue": total, "samples": samples, "weights": weights,
        }],
        "name": name,
        "activeProfileIndex": 0,
        "exporter": "ringscope",
    }  # fmt: skip
    return json.dumps(doc)
