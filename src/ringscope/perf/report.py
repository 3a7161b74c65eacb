"""Turn a Profile into what people read: a perf-report-like table (self or
`--children` overhead by comm, pid, tid, dso, sym, srcline) with optional
call chains, folded stacks (flamegraph.pl), speedscope JSON, or an SVG
flame graph (flamegraph.py). script.py and pprof.py export per sample."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass

from ..errors import BadInput
from ..symbols.resolver import UNKNOWN, Frame
from .profile import Profile
from .symbolize import ProfileSymbols

__all__ = ["SORT_KEYS", "Stack", "folded", "oneline", "parse_sort", "resolve", "speedscope", "text"]

SORT_KEYS = ("comm", "pid", "tid", "dso", "sym", "srcline")
SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
_TITLES = {"comm": "Command", "pid": "Pid:Command", "tid": "Tid:Command", "dso": "Shared Object",
           "sym": "Symbol", "srcline": "Source:Line"}  # fmt: skip


@dataclass(frozen=True)
class Stack:
    """One symbolized stack, root first, with its sample count."""

    comm: str
    pid: int
    count: int
    frames: tuple[Frame, ...]
    tid: int = 0
    ids: tuple[int, ...] = ()  # frame ids in the profile, root first

    @property
    def leaf(self) -> Frame:
        return self.frames[-1] if self.frames else Frame(UNKNOWN, UNKNOWN, False)


def resolve(profile: Profile, syms: ProfileSymbols | None = None) -> list[Stack]:
    """Symbolize every distinct (comm, pid, tid, stack), with its count."""
    syms = syms or ProfileSymbols(profile)
    s = profile.samples
    agg: Counter[tuple[int, int, int, int]] = Counter()
    cols = zip(s["comm"].tolist(), s["pid"].tolist(), s["tid"].tolist(), s["stack"].tolist(),
               s["count"].tolist(), strict=True)  # fmt: skip
    for comm, pid, tid, stack, count in cols:
        agg[(comm, pid, tid, stack)] += count
    out = []
    for (comm, pid, tid, stack), count in agg.items():
        ids = tuple(reversed(profile.stacks[stack]))
        frames = tuple(syms.frame(i) for i in ids)
        out.append(Stack(profile.comms[comm], pid, count, frames, tid, ids))
    return out


def parse_sort(spec: str) -> list[str]:
    keys = [k.strip() for k in spec.split(",") if k.strip()]
    bad = [k for k in keys if k not in SORT_KEYS]
    if bad or not keys:
        raise BadInput(f"--sort {spec!r}: keys are {', '.join(SORT_KEYS)}")
    return keys


def oneline(text: object) -> str:
    """`text` on one line: control characters (a newline in a command
    line) escaped, so a header cannot forge report lines."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def _part(key: str, st: Stack, idx: int, syms: ProfileSymbols) -> str:
    if key == "comm":
        return st.comm
    if key in ("pid", "tid"):
        return f"{st.pid if key == 'pid' else st.tid}:{st.comm}"
    f = st.frames[idx] if st.frames else Frame(UNKNOWN, UNKNOWN, False)
    if key == "dso":
        return f.dso
    if key == "sym":
        return f"[{'k' if f.kernel else '.'}] {f.name}"
    line = syms.srcline(st.ids[idx]) if st.ids else None
    return line or (f"{f.dso}+0x{f.addr:x}" if not f.kernel else f.name)


def _key(st: Stack, keys: list[str], idx: int, syms: ProfileSymbols) -> tuple[str, ...]:
    return tuple(oneline(_part(k, st, idx, syms)) for k in keys)


def _header(profile: Profile, total: int) -> list[str]:
    m, st = profile.meta, profile.stats
    rate = f"{m.get('freq')} Hz" if m.get("freq") else f"period {m.get('period')}"
    cg = m.get("callgraph") or ("fp" if m.get("callchain") else "none")
    lost = st.get("lost", 0) + st.get("lost_key", 0)
    return [
        oneline(f"# ringscope report: {total} samples of event '{m.get('event')}' ({rate}), "
                f"call graph {cg}, target {m.get('target')}"),
        f"# lost: {lost} samples",
        "#",
    ]  # fmt: skip


def _label(syms: ProfileSymbols, fid: int, f: Frame) -> str:
    line = syms.srcline(fid)
    return f"{f.name} {line}" if line else f.name


def text(
    profile: Profile,
    sort: str = "comm,dso,sym",
    callgraph: bool = False,
    limit: int = 0,
    *,
    children: bool = False,
    percent_limit: float = 0.0,
) -> str:
    """perf report --stdio, roughly: overhead per sort key, hottest first."""
    keys = parse_sort(sort)
    syms = ProfileSymbols(profile)
    stacks = resolve(profile, syms)
    total = sum(s.count for s in stacks)
    self_: Counter[tuple[str, ...]] = Counter()
    incl: Counter[tuple[str, ...]] = Counter()
    chains: dict[tuple[str, ...], Counter[tuple[str, ...]]] = defaultdict(Counter)
    for st in stacks:
        leaf = len(st.frames) - 1
        k = _key(st, keys, leaf, syms)
        self_[k] += st.count
        if children:
            for key in {_key(st, keys, i, syms) for i in range(len(st.frames))} | {k}:
                incl[key] += st.count
        if callgraph:
            chain = tuple(
                _label(syms, i, f) for i, f in zip(reversed(st.ids), reversed(st.frames), strict=True)
            )
            chains[k][chain] += st.count
    by = incl if children else self_
    cols = [_TITLES[k] for k in keys]
    widths = [max([len(cols[i])] + [len(key[i]) for key in by]) for i in range(len(keys))]
    lines = _header(profile, total)
    heads = "  ".join(f"{c:<{w}}" for c, w in zip(cols, widths, strict=True))
    lines.append(f"# {'Children      Self' if children else 'Overhead'}  {heads}".rstrip())
    lines.append("#")
    for shown, (key, count) in enumerate(by.most_common()):
        pct = 100.0 * count / total
        if pct < percent_limit or (limit and shown >= limit):
            break
        vals = "  ".join(f"{v:<{w}}" for v, w in zip(key, widths, strict=True))
        lead = f" {pct:8.2f}%  {100.0 * self_[key] / total:8.2f}%" if children else f" {pct:8.2f}%"
        lines.append(f"{lead}  {vals}".rstrip())
        if callgraph and key in chains:
            lines.extend(_callgraph(chains[key], total))
    if not total:
        lines.append("# no samples")
    return "\n".join(lines) + "\n"


def _callgraph(chains: Counter[tuple[str, ...]], total: int, top: int = 5) -> list[str]:
    """The hottest call chains into this entry, leaf first."""
    out = []
    for chain, count in chains.most_common(top):
        pad = " " * 12
        out.append(oneline(f"{pad}|--{100.0 * count / total:.2f}%-- {chain[0] if chain else UNKNOWN}"))
        out.extend(oneline(f"{pad}|{' ' * 12}{name}") for name in chain[1:])
    out.append(f"{' ' * 12}|")
    return out


def _folded_name(f: Frame) -> str:
    name = f.name.replace(";", ":").replace(" ", "_")
    # flamegraph.pl's convention (stackcollapse-perf --kernel): _[k] marks kernel frames.
    return f"{name}_[k]" if f.kernel else name


def folded(profile: Profile) -> str:
    """flamegraph.pl input: `comm;root;...;leaf count`, one stack a line."""
    agg: Counter[str] = Counter()
    for st in resolve(profile):
        comm = oneline(st.comm).replace(";", ":").replace(" ", "_") or "[unknown]"
        agg[";".join([comm, *(oneline(_folded_name(f)) for f in st.frames)])] += st.count
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
