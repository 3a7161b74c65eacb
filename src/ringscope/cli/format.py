"""Rendering rows for a terminal (text) or a pipe (NDJSON)."""

from __future__ import annotations

import json
from typing import Any

_HEAD = ("seq", "ts_ns", "type", "cpu", "pid", "tid", "uid", "comm", "cgroup_id")


def to_json(row: dict[str, Any]) -> str:
    return json.dumps(row, separators=(",", ":"), ensure_ascii=False)


def text_header() -> str:
    return f"{'TIME(s)':>14} {'CPU':>3} {'COMM':<16} {'PID':>7} {'TID':>7} {'EVENT':<12} DETAILS"


def to_text(row: dict[str, Any]) -> str:
    if row["type"] == "lost":
        extra = " ".join(
            f"{k}={v}" for k, v in row.items() if k not in ("seq", "ts_ns", "type", "stage", "count")
        )
        return (
            f"{row['ts_ns'] / 1e9:>14.6f} --- LOST {row['count']} events at the {row['stage']} stage {extra}"
        )
    details = " ".join(f"{k}={_fmt(v)}" for k, v in row.items() if k not in _HEAD)
    return (
        f"{row['ts_ns'] / 1e9:>14.6f} {row['cpu']:>3} {row['comm']:<16} {row['pid']:>7} {row['tid']:>7} "
        f"{row['type']:<12} {details}"
    )


def _fmt(v: Any) -> str:
    if isinstance(v, list):
        return json.dumps(" ".join(map(str, v)))
    if isinstance(v, str) and (" " in v or not v):
        return json.dumps(v)
    return str(v)
