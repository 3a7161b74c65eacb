"""One client's bounded queue and its back-pressure policy.

The hub offers views without ever awaiting; the client's writer awaits
take(), writes, then reports sent(). When the queue is full the client's
policy applies (drop-oldest, drop-newest, disconnect) and every dropped
event is counted; the client later reads one `lost` record (stage
"client") with the count and the first and last seq it missed."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..events.records import Lost
from .blocks import Block, View
from .filter import ClientFilter

__all__ = [
    "DEFAULT_CLIENT_QUEUE",
    "MAX_NOTICES",
    "POLICIES",
    "ClientLoss",
    "Entry",
    "Notice",
    "Policy",
    "Subscriber",
]

Policy = Literal["drop-oldest", "drop-newest", "disconnect"]
POLICIES: tuple[Policy, ...] = ("drop-oldest", "drop-newest", "disconnect")
DEFAULT_CLIENT_QUEUE = 65536  # events
MAX_NOTICES = 64  # unread control rows (WebSocket acks) per client


def _merge_lost(old: Lost, new: Lost) -> Lost:
    """One loss record for two: counts (and per-type counts) summed, the
    later seq and time kept, the first seq remembered."""
    detail = {**old.detail, **new.detail}
    a, b = old.detail.get("by_type"), new.detail.get("by_type")
    if isinstance(a, dict) and isinstance(b, dict):
        detail["by_type"] = {k: a.get(k, 0) + b.get(k, 0) for k in {*a, *b}}
    detail["first_seq"] = old.detail.get("first_seq", old.seq)
    return Lost(new.seq, new.stage, old.count + new.count, new.ts_ns, detail)


@dataclass(slots=True)
class ClientLoss:
    """Events this client missed, reported in-stream when it catches up."""

    count: int
    first_seq: int
    last_seq: int
    reason: str

    def merge(self, count: int, first: int, last: int) -> None:
        self.count += count
        self.first_seq = min(self.first_seq, first)
        self.last_seq = max(self.last_seq, last)

    def row(self) -> dict[str, Any]:
        return {"type": "lost", "stage": "client", "count": self.count, "first_seq": self.first_seq,
                "last_seq": self.last_seq, "ts_ns": time.monotonic_ns(), "reason": self.reason}  # fmt: skip


@dataclass(slots=True)
class Notice:
    """A control row in one client's stream (a subscription ack, an error),
    queued so that it stays in order with the events around it."""

    doc: dict[str, Any]

    def row(self) -> dict[str, Any]:
        return self.doc


Entry = View | ClientLoss | Notice


@dataclass(eq=False)
class Subscriber:
    """One client's queue. The hub offers views without ever awaiting; the
    client's writer task awaits `take()`, writes, then reports `sent()`.
    Counters satisfy, at all times, matched == delivered + dropped + depth +
    sending; once unsubscribed, matched == delivered + dropped."""

    id: int
    kind: str  # "sse", "ws", "ndjson", or "api" for in-process users
    peer: str
    filter: ClientFilter
    policy: Policy = "drop-oldest"
    max_queue: int = DEFAULT_CLIENT_QUEUE
    limit: int | None = None
    batch: int = 1
    queue: deque[Entry] = field(default_factory=deque)
    depth: int = 0  # events queued
    sending: int = 0  # events taken by the writer and not yet written
    matched: int = 0
    delivered: int = 0
    dropped: int = 0
    lost_records: int = 0
    closed: str | None = None  # why the stream ends: "limit", "shutdown", "queue overflow", ...
    connected_at: float = field(default_factory=time.time)
    on_overflow: Callable[[], None] | None = None  # the server's hook to cut a stalled connection
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    # -- producer side (the hub) --

    def offer(self, view: View) -> None:
        if self.closed is not None:
            return
        n = len(view)
        if not view.is_event:
            self._push_loss(view)
            return
        self.matched += n
        room = self.max_queue - self.depth
        if n > room:
            if self.policy == "disconnect":
                self._overflow_disconnect(view)
                return
            if self.policy == "drop-newest":
                if room > 0:
                    self._push(view.head(room))
                self._drop_tail(view.tail(n - room))
                return
            # drop-oldest: make room from the front, then keep at most the newest max_queue
            if n > self.max_queue:
                self._drop_head_view(view.head(n - self.max_queue))
                view = view.tail(self.max_queue)
                n = self.max_queue
            self._evict(n - (self.max_queue - self.depth))
        self._push(view)

    def _push_loss(self, view: View) -> None:
        """Queue a kernel/daemon loss record. Consecutive ones (a client that
        reads nothing in between) merge into one with the summed count, so
        a stalled client's queue stays bounded while the kernel drops."""
        tail = self.queue[-1] if self.queue else None
        new = view.block.lost
        if isinstance(tail, View) and tail.block.lost is not None and new is not None:
            old = tail.block.lost
            if old.stage == new.stage:
                self.queue[-1] = View(Block(_merge_lost(old, new)))
                self._wake.set()
                return
        self.queue.append(view)
        self._wake.set()

    def _push(self, view: View) -> None:
        self.queue.append(view)
        self.depth += len(view)
        self._wake.set()

    def _drop_tail(self, view: View) -> None:
        self.dropped += len(view)
        tail = self.queue[-1] if self.queue else None
        if isinstance(tail, ClientLoss):
            tail.merge(len(view), view.first_seq(), view.last_seq())
        else:
            self.queue.append(ClientLoss(len(view), view.first_seq(), view.last_seq(), "drop-newest"))
        self._wake.set()

    def _head_loss(self) -> ClientLoss:
        head = self.queue[0] if self.queue else None
        if isinstance(head, ClientLoss):
            return head
        loss = ClientLoss(0, 1 << 62, -1, "drop-oldest")
        self.queue.appendleft(loss)
        return loss

    def _drop_head_view(self, view: View) -> None:
        self.dropped += len(view)
        self._head_loss().merge(len(view), view.first_seq(), view.last_seq())

    def _evict(self, need: int) -> None:
        """Drop the oldest queued events until `need` fit (drop-oldest).
        Kernel and daemon loss records are never dropped: they keep their place."""
        loss = self._head_loss()
        self.queue.popleft()
        kept: list[Entry] = []
        while need > 0 and self.queue:
            entry = self.queue.popleft()
            if isinstance(entry, ClientLoss):
                loss.merge(entry.count, entry.first_seq, entry.last_seq)
                continue
            if isinstance(entry, Notice) or not entry.is_event:
                kept.append(entry)
                continue
            k = min(need, len(entry))
            gone = entry.head(k)
            if k < len(entry):
                self.queue.appendleft(entry.tail(len(entry) - k))
            loss.merge(k, gone.first_seq(), gone.last_seq())
            self.depth -= k
            self.dropped += k
            need -= k
        self.queue.extendleft(reversed(kept))
        if loss.count:
            self.queue.appendleft(loss)

    def _overflow_disconnect(self, view: View) -> None:
        """Policy "disconnect": everything queued is dropped with the new
        events, reported in one loss record, and the stream ends."""
        views = [e for e in self.queue if isinstance(e, View) and e.is_event]
        first = views[0].first_seq() if views else view.first_seq()
        loss = ClientLoss(self.depth + len(view), first, view.last_seq(), "disconnect")
        for e in self.queue:
            if isinstance(e, ClientLoss):
                loss.merge(e.count, e.first_seq, e.last_seq)
        self.dropped += self.depth + len(view)
        self.depth = 0
        self.queue.clear()
        self.queue.append(loss)
        self.closed = "queue overflow"
        self._wake.set()
        if self.on_overflow is not None:
            self.on_overflow()

    def notify(self, doc: dict[str, Any]) -> None:
        """Queue a control row for this client, after what is queued now.
        A client that keeps sending requests without reading the answers
        is cut rather than allowed to grow its queue without bound."""
        if sum(isinstance(e, Notice) for e in self.queue) >= MAX_NOTICES:
            self.close("too many unread control messages")
            return
        self.queue.append(Notice(doc))
        self._wake.set()

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
        self._wake.set()

    # -- consumer side (the client's writer) --

    async def wait(self, timeout: float | None) -> bool:
        """Wait until something is queued or the stream is closed. False on timeout."""
        if self.queue or self.closed is not None:
            return True
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def take(self, max_events: int = 1 << 30) -> list[Entry]:
        """Pop queued entries (about `max_events` events), honouring `limit`."""
        out: list[Entry] = []
        budget = max_events
        while self.queue and budget > 0 and not self.done:
            entry = self.queue.popleft()
            if not isinstance(entry, View):
                self.lost_records += isinstance(entry, ClientLoss)
                out.append(entry)
                continue
            if entry.is_event:
                n = len(entry)
                if self.limit is not None and self.delivered + self.sending + n > self.limit:
                    keep = self.limit - self.delivered - self.sending
                    # The rest were matched but will never be sent: not a loss, the client asked to stop.
                    self.matched -= n - keep
                    self.depth -= n - keep
                    entry = entry.head(keep)
                    n = keep
                self.depth -= n
                self.sending += n
                budget -= n
            out.append(entry)
        if self.done:
            self.close("limit")
        return out

    def sent(self, n: int) -> None:
        """The writer wrote `n` taken events: only now are they delivered."""
        self.sending -= n
        self.delivered += n

    def abandon(self) -> None:
        """The client is gone: what is queued or was being written never
        reaches it, so it counts as dropped."""
        self.dropped += self.depth + self.sending
        self.depth = self.sending = 0
        self.queue.clear()
        self.close("disconnect")

    @property
    def done(self) -> bool:
        return self.limit is not None and self.delivered + self.sending >= self.limit

    def drained_and_closed(self) -> bool:
        """True when the stream should end: closed, with nothing left to send
        (overflow-disconnects end at once, with what is queued discarded)."""
        return self.closed is not None and (not self.queue or self.done)

    def status(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "peer": self.peer, "filter": self.filter.as_dict(),
                "policy": self.policy, "max_queue": self.max_queue, "limit": self.limit, "batch": self.batch,
                "queue_depth": self.depth, "sending": self.sending, "matched": self.matched,
                "delivered": self.delivered, "dropped": self.dropped, "connected_at": self.connected_at}  # fmt: skip
