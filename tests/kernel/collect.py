"""Helpers for kernel tests: run a session until the test's own events arrive."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ringscope.events.records import Chunk
from ringscope.session import Session

Row = dict[str, Any]


def collect(s: Session, until: Callable[[list[Row]], bool], timeout: float = 5.0) -> list[Row]:
    """Poll `s` until `until(rows)` holds or `timeout` passes; return every row."""
    rows: list[Row] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in s.poll(0.05):
            rows.extend(item.rows() if isinstance(item, Chunk) else [item.row()])
        if until(rows):
            break
    return rows


def of_type(rows: list[Row], t: str) -> list[Row]:
    return [r for r in rows if r["type"] == t]
