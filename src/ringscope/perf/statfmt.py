"""`perf stat`-compatible output: derived metrics, and the text, CSV (-x)
and JSON (-j) renderings, field for field as perf 6.x prints them."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .counting import Reading

__all__ = ["Row", "format_csv", "format_json", "format_text", "rows"]

NOT_SUPPORTED = "<not supported>"
NOT_COUNTED = "<not counted>"
_CLOCKS = ("task-clock", "cpu-clock")


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

    def as_json(self) -> dict[str, object]:
        return {
            "counter-value": self.counter_value,
            "unit": self.unit,
            "event": self.event,
            "event-runtime": self.runtime,
            "pcnt-running": round(self.pcnt_running, 2),
            "metric-value": round(self.metric_value or 0.0, 6),
            "metric-unit": self.metric_unit,
        }


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


def _metric(r: Reading, readings: list[Reading], wall_ns: int) -> tuple[float | None, str]:
    name = _base(r)
    clock_ns = _find(readings, *_CLOCKS)
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


def rows(readings: list[Reading], wall_ns: int) -> list[Row]:
    """Readings -> printable rows, with perf's derived metrics."""
    out = []
    for r in readings:
        is_clock = _base(r) in _CLOCKS
        unit = "msec" if is_clock else ""
        if not r.supported:
            out.append(Row(r.event.name, NOT_SUPPORTED, unit, 0, 100.0, None, ""))
        elif not r.counted:
            out.append(Row(r.event.name, NOT_COUNTED, unit, 0, 0.0, None, ""))
        else:
            value = f"{r.value / 1e6:.6f}" if is_clock else f"{r.value:.6f}"
            mv, mu = _metric(r, readings, wall_ns)
            out.append(Row(r.event.name, value, unit, r.running, r.pcnt_running, mv, mu))
    return out


def _text_value(row: Row) -> str:
    if row.counter_value.startswith("<"):
        return row.counter_value
    v = float(row.counter_value)
    return f"{v:.2f}" if row.unit == "msec" else f"{v:.0f}"


def _text_line(row: Row) -> str:
    line = f"{_text_value(row):>18} {row.unit:<4} {row.event:<33}"
    if row.metric_value is not None:
        line += f"#  {row.metric_value:>7.3f} {row.metric_unit}"
    if 0 < row.pcnt_running < 99.995:  # multiplexed: say how long it ran
        line += f"  ({row.pcnt_running:.2f}%)"
    return line.rstrip()


def format_text(
    rs: list[Row], label: str, wall_ns: int, interval_ts: float | None = None,
    user_s: float | None = None, sys_s: float | None = None,
) -> str:  # fmt: skip
    """perf stat's human output; with interval_ts, one timestamped line per row."""
    if interval_ts is not None:
        return "\n".join(f"{interval_ts:>16.9f} {_text_line(r)}" for r in rs)
    body = "\n".join(_text_line(r) for r in rs)
    text = (
        f"\n Performance counter stats for {label}:\n\n{body}\n\n"
        f"{wall_ns / 1e9:>18.9f} seconds time elapsed\n"
    )
    if user_s is not None and sys_s is not None:
        text += f"\n{user_s:>18.9f} seconds user\n{sys_s:>18.9f} seconds sys\n"
    return text


def format_csv(rs: list[Row], sep: str, interval_ts: float | None = None) -> str:
    """perf stat -x SEP: value,unit,event,runtime,pcnt-running,metric,metric-unit."""
    lines = []
    for r in rs:
        value = _text_value(r)
        metric = "" if r.metric_value is None else f"{r.metric_value:.3f}"
        fields = [value, r.unit, r.event, str(r.runtime), f"{r.pcnt_running:.2f}", metric, r.metric_unit]
        if interval_ts is not None:
            fields.insert(0, f"{interval_ts:.9f}")
        lines.append(sep.join(fields))
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
