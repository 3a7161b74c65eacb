"""How counts are added up before printing, as perf stat does it: over
everything (the default), per CPU (-A), per core (--per-core) or per socket
(--per-socket), from the CPU topology. Also the mean of repeated runs (-r),
with perf's noise figure: the standard error of the mean, in percent."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..transport.topology import cpu_id
from .counting import Reading

__all__ = ["MODES", "Aggr", "Group", "aggregate", "mean_groups", "noise_pct", "std_error"]

MODES = ("global", "cpu", "core", "socket")


@dataclass(frozen=True)
class Aggr:
    """What one printed block stands for: perf's prefix and its -j fields."""

    label: str  # "CPU0", "S0-D0-C1", "S0"
    field: str  # -j key: "cpu", "core" or "socket"
    value: str  # -j value: "0", "S0-D0-C1", "S0"
    nr: int  # CPUs added up


@dataclass(frozen=True)
class Group:
    """The readings of one aggregate; `noise` per reading with -r."""

    aggr: Aggr | None
    readings: list[Reading]
    noise: tuple[float, ...] | None = None


def _sum(rows: Sequence[list[Reading]]) -> list[Reading]:
    return [sum(col[1:], col[0]) for col in zip(*rows, strict=True)]


def _key(mode: str, cpu: int) -> tuple[tuple[int, ...], Aggr]:
    if mode == "cpu":
        return (cpu,), Aggr(f"CPU{cpu}", "cpu", str(cpu), 1)
    t = cpu_id(cpu)
    if mode == "core":
        name = f"S{t.socket}-D{t.die}-C{t.core}"
        return (t.socket, t.die, t.core), Aggr(name, "core", name, 0)
    return (t.socket,), Aggr(f"S{t.socket}", "socket", f"S{t.socket}", 0)


def aggregate(readings: list[Reading], per_cpu: dict[int, list[Reading]] | None, mode: str) -> list[Group]:
    """Groups to print, in perf's order (by CPU, core or socket id)."""
    if mode == "global" or not per_cpu:
        return [Group(None, readings)]
    blocks: dict[tuple[int, ...], tuple[Aggr, list[list[Reading]]]] = {}
    for cpu, rs in sorted(per_cpu.items()):
        key, aggr = _key(mode, cpu)
        blocks.setdefault(key, (aggr, []))[1].append(rs)
    return [Group(replace(aggr, nr=len(rows)), _sum(rows)) for _, (aggr, rows) in sorted(blocks.items())]


def std_error(values: Sequence[float]) -> float:
    """The standard error of the mean of `values` (perf's stddev_stats:
    sample variance / n, square-rooted); 0 for fewer than two values."""
    n = len(values)
    if n < 2:
        return 0.0
    mean = sum(values) / n
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return math.sqrt(variance / n)


def noise_pct(values: Sequence[float]) -> float:
    """perf's `( +- x% )`: the standard error relative to the mean."""
    mean = sum(values) / len(values) if values else 0.0
    return 100.0 * std_error(values) / mean if mean else 0.0


def _mean(rs: Sequence[Reading]) -> Reading:
    n = len(rs)
    total = sum(rs[1:], rs[0])
    return replace(total, raw=round(total.raw / n), enabled=round(total.enabled / n),
                   running=round(total.running / n))  # fmt: skip


def mean_groups(runs: Sequence[list[Group]]) -> list[Group]:
    """Several runs' groups -> one group per aggregate, each reading the
    mean over the runs, with its noise (perf stat -r)."""
    out = []
    for blocks in zip(*runs, strict=True):
        cols = list(zip(*(b.readings for b in blocks), strict=True))
        noise = tuple(noise_pct([r.value for r in col]) for col in cols)
        out.append(Group(blocks[0].aggr, [_mean(col) for col in cols], noise))
    return out
