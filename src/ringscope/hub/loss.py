"""Why a client missed events, and the record that tells it so.

Every event a client's filter matched ends up delivered or lost for one of
these reasons, and each reason is counted apart (in-stream `lost` records,
/api/status, the `reason` label of /metrics):

- back-pressure, the server dropped events because the client did not keep
  up: "drop-oldest" and "drop-newest" (its queue was full, per its policy),
  "disconnect" (policy disconnect: the queue overflowed and the stream
  ended), "send-timeout" (a write did not complete within the send
  timeout; what it held and what was queued behind it);
- "replay-gap": a resuming client (SSE Last-Event-ID) asked for events that
  had already left the replay window. Counted in events its filter would
  have matched when that is known, else reported with an unknown count;
  never a drop;
- "departed": events queued or being written when the client closed its
  connection;
- "shutdown": events still queued when the server's shutdown grace ran out.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from ..events.records import Lost

__all__ = ["BACKPRESSURE", "REASONS", "ClientLoss", "Reason", "merge_lost"]

Reason = Literal[
    "drop-oldest", "drop-newest", "disconnect", "send-timeout", "replay-gap", "departed", "shutdown"
]
BACKPRESSURE: tuple[Reason, ...] = ("drop-oldest", "drop-newest", "disconnect", "send-timeout")
REASONS: tuple[Reason, ...] = (*BACKPRESSURE, "replay-gap", "departed", "shutdown")


def merge_lost(old: Lost, new: Lost) -> Lost:
    """One kernel/daemon loss record for two of the same stage: counts (and
    per-type counts) summed, the later seq and time kept, the first seq
    remembered."""
    detail = {**old.detail, **new.detail}
    a, b = old.detail.get("by_type"), new.detail.get("by_type")
    if isinstance(a, dict) and isinstance(b, dict):
        detail["by_type"] = {k: a.get(k, 0) + b.get(k, 0) for k in {*a, *b}}
    detail["first_seq"] = old.detail.get("first_seq", old.seq)
    return Lost(new.seq, new.stage, old.count + new.count, new.ts_ns, detail)


@dataclass(slots=True)
class ClientLoss:
    """Events one client missed for one reason, reported in-stream when it
    catches up. `exact` is False for a replay gap whose size is unknown
    (the record then says `"count": null`)."""

    reason: Reason
    count: int = 0
    first_seq: int = 1 << 62
    last_seq: int = -1
    by_type: Counter[str] = field(default_factory=Counter)
    exact: bool = True
    note: str | None = None

    def add(self, type_name: str, count: int, first: int, last: int) -> None:
        self.count += count
        self.by_type[type_name] += count
        self.first_seq = min(self.first_seq, first)
        self.last_seq = max(self.last_seq, last)

    def absorb(self, other: ClientLoss) -> None:
        """Merge another record of the same reason into this one."""
        self.count += other.count
        self.by_type.update(other.by_type)
        self.first_seq = min(self.first_seq, other.first_seq)
        self.last_seq = max(self.last_seq, other.last_seq)
        self.exact = self.exact and other.exact

    def row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"type": "lost", "stage": "client", "reason": self.reason,
                               "count": self.count if self.exact else None}  # fmt: skip
        if self.last_seq >= 0:
            row["first_seq"], row["last_seq"] = self.first_seq, self.last_seq
        row["ts_ns"] = time.monotonic_ns()
        if self.by_type:
            row["by_type"] = dict(self.by_type)
        if self.note:
            row["note"] = self.note
        return row
