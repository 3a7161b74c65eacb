"""`perf stat`-compatible output: derived metrics, and the text, CSV (-x)
and JSON (-j) renderings, field for field as perf 6.x prints them,
including the per-CPU/core/socket prefixes (-A, --per-core, --per-socket)
and the noise of repeated runs (-r)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace

from .aggregate import Aggr, Group
from .counting import Reading

__all__ = ["Footer", "Row", "format_csv", "format_json", "format_text", "group_rows", "rows"]

NOT_SUPPORTED = "<not supported>"
NOT_COUNTED = "<not counted>"
_CLOCKS = ("task-clock", "cpu-clock")
_LINE = 87  # where perf puts the noise column of a counter line


@dataclass(frozen=True)
class Row:
    """One counter as printed: perf stat -j's fields."""

    event: str
    counter_value: str  # a number, "<not supported>" or "<not counted>"
    unit: str
    runtime: int
    pcnt_running: float
    metric_value: float | None
    metric_unit: str
    aggr: Aggr | None = None  # -A, --per-core, --per-socket
    noise: float | None = None  # -r: relative standard error of the mean, %
    cgroup: str = ""  # -G

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.aggr is not None:
            out[self.aggr.field] = self.aggr.value
            if self.aggr.field != "cpu":
                out["aggregate-number"] = self.aggr.nr
        out |= {"counter-value": self.counter_value, "unit": self.unit, "event": self.event}
        if self.cgroup:
            out["cgroup"] = self.cgroup
        if self.noise is not None:
            out["variance"] = round(self.noise, 2)
        return out | {
            "event-runtime": self.runtime,
            "pcnt-running": round(self.pcnt_running, 2),
            "metric-value": round(self.metric_value or 0.0, 6),
            "metric-unit": self.metric_unit,
        }


@dataclass(frozen=True)
class Footer:
    """What follows the counters in the text output."""

    label: str  # the target, as perf names it
    wall_ns: float  # mean over the runs
    runs: int = 1
    wall_sd_ns: float = 0.0  # standard error of the mean wall time (-r)
    user_s: float | None = None  # the command's CPU time, when it is the target
    sys_s: float | None = None


def _base(r: Reading) -> str:
    return r.event.name.split(":")[0] if r.event.kind != "tracepoint" else r.event.name


def _find(readings: list[Reading], *names: str) -> float | None:
    for r in readings:
        if _base(r) in names and r.counted:
            return r.value
    return None


def _rate(count: float, seconds: float) -> tuple[float, str]:
    rate = count / seconds
    for scale, unit in ((1e9, "G/sec"), (1e6, "M/sec"), (1e3, "K/sec")):
        if rate >= scale:
            return rate / scale, unit
    return rate, "/sec"


def _metric(r: Reading, readings: list[Reading], wall_ns: float) -> tuple[float | None, str]:
    name = _base(r)
    clock_ns = _find(readings, *_CLOCKS)
    if r.event.kind == "tool":
        return None, ""
    if name in _CLOCKS:
        return (r.value / wall_ns, "CPUs utilized") if wall_ns else (None, "")
    if name in ("cycles", "cpu-cycles") and clock_ns:
        return r.value / clock_ns, "GHz"
    if name == "instructions":
        cycles = _find(readings, "cycles", "cpu-cycles")
        return (r.value / cycles, "insn per cycle") if cycles else (None, "")
    if name == "branch-misses":
        branches = _find(readings, "branches", "branch-instructions")
        return (100.0 * r.value / branches, "of all branches") if branches else (None, "")
    if name == "cache-misses":
        refs = _find(readings, "cache-references")
        return (100.0 * r.value / refs, "of all cache refs") if refs else (None, "")
    if clock_ns:
        return _rate(r.value, clock_ns / 1e9)
    return None, ""


def _unit(r: Reading) -> str:
    if r.event.kind == "tool":
        return "ns"
    return "msec" if _base(r) in _CLOCKS else ""


def _row(r: Reading, readings: list[Reading], wall_ns: float) -> Row:
    unit = _unit(r)
    if not r.supported:
        return Row(r.event.name, NOT_SUPPORTED, unit, 0, 100.0, None, "")
    if not r.counted:
        return Row(r.event.name, NOT_COUNTED, unit, 0, 0.0, None, "")
    value = f"{r.value / 1e6:.6f}" if unit == "msec" else f"{r.value:.6f}"
    mv, mu = _metric(r, readings, wall_ns)
    return Row(r.event.name, value, unit, r.running, r.pcnt_running, mv, mu)


def rows(
    readings: list[Reading], wall_ns: float, aggr: Aggr | None = None,
    noise: tuple[float, ...] | None = None, cgroup: str = "",
) -> list[Row]:  # fmt: skip
    """Readings -> printable rows, with perf's derived metrics."""
    return [
        replace(
            _row(r, readings, wall_ns), aggr=aggr, noise=None if noise is None else noise[i], cgroup=cgroup
        )
        for i, r in enumerate(readings)
    ]


def group_rows(groups: list[Group], wall_ns: float, cgroup: str = "") -> list[Row]:
    """Rows of every aggregate, in perf's order: event by event, then by aggregate."""
    per = [rows(g.readings, wall_ns, g.aggr, g.noise, cgroup) for g in groups]
    return [r for col in zip(*per, strict=True) for r in col] if len(per) > 1 else per[0]


def _grouped(digits: str, sep: str) -> str:
    """'1234567' -> '1,234,567' with sep ','; unchanged without a separator."""
    if not sep:
        return digits
    head = len(digits) % 3 or 3
    return sep.join([digits[:head], *(digits[i : i + 3] for i in range(head, len(digits), 3))])


def _text_value(row: Row, thousands: str = "") -> str:
    if row.counter_value.startswith("<"):
        return row.counter_value
    v = float(row.counter_value)
    whole, _, frac = f"{v:.2f}".partition(".") if row.unit == "msec" else (f"{v:.0f}", "", "")
    sign = "-" if whole.startswith("-") else ""
    return sign + _grouped(whole.lstrip("-"), thousands) + (f".{frac}" if frac else "")


def _prefix(aggr: Aggr | None, sep: str | None) -> str:
    """perf's aggregate prefix: 'CPU0', 'S0-D0-C0  nr', 'S0  nr' (CSV: fields)."""
    if aggr is None:
        return ""
    if sep is not None:
        return f"{aggr.label}{sep}" + ("" if aggr.field == "cpu" else f"{aggr.nr}{sep}")
    if aggr.field == "cpu":
        return f"{aggr.label:<10} "
    width = 15 if aggr.field == "core" else 6
    return f"{aggr.label:<{width}} {aggr.nr:>4} "


def _text_line(row: Row, thousands: str) -> str:
    line = f"{_prefix(row.aggr, None)}{_text_value(row, thousands):>18} {row.unit:<4} {row.event:<33}"
    if row.cgroup:
        line += f"{row.cgroup} "
    if row.metric_value is not None:
        line += f"#  {row.metric_value:>7.3f} {row.metric_unit}"
    if 0 < row.pcnt_running < 99.995:  # multiplexed: say how long it ran
        line += f"  ({row.pcnt_running:.2f}%)"
    if row.noise is not None:
        line = f"{line:<{_LINE}}  ( +-{row.noise:6.2f}% )"
    return line.rstrip()


def _precision(sd: float) -> int:
    """perf's: two more digits than the inaccuracy of the figure."""
    return (0 if sd > 1 else math.ceil(-math.log10(sd))) + 2 if sd > 0 else 9


def _elapsed(f: Footer) -> str:
    secs = f.wall_ns / 1e9
    if f.runs == 1:
        return f"{secs:>18.9f} seconds time elapsed"
    sd = f.wall_sd_ns / 1e9
    p = _precision(sd)
    pct = 100.0 * sd / secs if secs else 0.0
    return f"{secs:>18.{p}f} +- {sd:.{p}f} seconds time elapsed  ( +-{pct:6.2f}% )"


def format_text(rs: list[Row], footer: Footer | None, interval_ts: float | None = None,
                thousands: str = "") -> str:  # fmt: skip
    """perf stat's human output; with interval_ts, one timestamped line per row.
    `thousands` separates digit groups (perf's default big-num, per locale)."""
    if interval_ts is not None or footer is None:
        ts = "" if interval_ts is None else f"{interval_ts:>16.9f} "
        return "\n".join(f"{ts}{_text_line(r, thousands)}" for r in rs)
    body = "\n".join(_text_line(r, thousands) for r in rs)
    runs = f" ({footer.runs} runs)" if footer.runs > 1 else ""
    text = f"\n Performance counter stats for {footer.label}{runs}:\n\n{body}\n\n{_elapsed(footer)}\n"
    if footer.user_s is not None and footer.sys_s is not None:
        text += f"\n{footer.user_s:>18.9f} seconds user\n{footer.sys_s:>18.9f} seconds sys\n"
    return text


def format_csv(rs: list[Row], sep: str, interval_ts: float | None = None) -> str:
    """perf stat -x SEP: [aggr,]value,unit,event[,cgroup][,noise],runtime,pcnt-running,metric,metric-unit."""
    lines = []
    for r in rs:
        value = _text_value(r)
        metric = "" if r.metric_value is None else f"{r.metric_value:.3f}"
        fields = [value, r.unit, r.event]
        if r.cgroup:
            fields.append(r.cgroup)
        if r.noise is not None:
            fields.append(f"{r.noise:.2f}%")
        fields += [str(r.runtime), f"{r.pcnt_running:.2f}", metric, r.metric_unit]
        line = _prefix(r.aggr, sep) + sep.join(fields)
        lines.append(line if interval_ts is None else f"{interval_ts:.9f}{sep}{line}")
    return "\n".join(lines)


def format_json(rs: list[Row], interval_ts: float | None = None) -> str:
    """perf stat -j: one JSON object per counter, one per line."""
    lines = []
    for r in rs:
        obj = r.as_json()
        if interval_ts is not None:
            obj = {"interval": round(interval_ts, 9), **obj}
        lines.append(json.dumps(obj))
    return "\n".join(lines)
