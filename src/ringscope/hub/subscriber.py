"""One client's bounded queue and its back-pressure policy.

The hub offers views without ever awaiting; the client's writer awaits
take(), writes, then reports sent(). When the queue is full the client's
policy applies (drop-oldest, drop-newest, disconnect) and every dropped
event is counted under its reason (loss.py); the client later reads one
`lost` record (stage "client") with the reason, the count and the first and
last seq it missed. At the end of a stream, final_losses() holds whatever
loss it has not been told about yet."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Literal

from .blocks import Block, View
from .filter import ClientFilter
from .loss import BACKPRESSURE, ClientLoss, Reason, merge_lost

__all__ = ["DEFAULT_CLIENT_QUEUE", "MAX_NOTICES", "POLICIES", "Entry", "Notice", "Policy", "Subscriber"]

Policy = Literal["drop-oldest", "drop-newest", "disconnect"]
POLICIES: tuple[Policy, ...] = ("drop-oldest", "drop-newest", "disconnect")
DEFAULT_CLIENT_QUEUE = 65536  # events
MAX_NOTICES = 64  # unread control rows (WebSocket acks) per client


@dataclass(slots=True)
class Notice:
    """A control row in one client's stream (a subscription ack, an error),
    queued so that it stays in order with the events around it."""

    doc: dict[str, Any]

    def row(self) -> dict[str, Any]:
        return self.doc


Entry = View | ClientLoss | Notice


def _is_events(entry: Entry) -> bool:
    return isinstance(entry, View) and entry.is_event


@dataclass(eq=False)
class Subscriber:
    """One client's queue. The hub offers views without ever awaiting; the
    client's writer task awaits `take()`, writes, then reports `sent()`.
    Counters satisfy, at all times, matched == delivered + lost_total +
    depth + sending; once unsubscribed, matched == delivered + lost_total.
    `lost` counts events per (reason, type); `reported` per reason what the
    client has been told in-stream."""

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
    lost: Counter[tuple[Reason, str]] = field(default_factory=Counter)
    reported: Counter[Reason] = field(default_factory=Counter)
    lost_records: int = 0
    closed: str | None = None  # why the stream ends: "limit", "shutdown", "overflow", ...
    connected_at: float = field(default_factory=time.time)
    _inflight: list[Entry] = field(default_factory=list)  # taken, not yet written
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
                self.queue[-1] = View(Block(merge_lost(old, new)))
                self._wake.set()
                return
        self.queue.append(view)
        self._wake.set()

    def _push(self, view: View) -> None:
        self.queue.append(view)
        self.depth += len(view)
        self._wake.set()

    def count_loss(self, reason: Reason, type_name: str, n: int) -> None:
        self.lost[(reason, type_name)] += n

    def _count_view(self, reason: Reason, view: View) -> None:
        for t, n in view.type_counts().items():
            self.count_loss(reason, t, n)

    def _lose(self, loss: ClientLoss, view: View) -> None:
        for t, n in view.type_counts().items():
            loss.add(t, n, view.first_seq(), view.last_seq())
            self.lost[(loss.reason, t)] += n

    def _drop_tail(self, view: View) -> None:
        tail = self.queue[-1] if self.queue else None
        if isinstance(tail, ClientLoss) and tail.reason == "drop-newest":
            loss = tail
        else:
            loss = ClientLoss("drop-newest")
            self.queue.append(loss)
        self._lose(loss, view)
        self._wake.set()

    def _head_loss(self) -> ClientLoss:
        """The drop-oldest record at the head of the queue (made if needed)."""
        head = self.queue[0] if self.queue else None
        if isinstance(head, ClientLoss) and head.reason == "drop-oldest":
            return head
        loss = ClientLoss("drop-oldest")
        self.queue.appendleft(loss)
        return loss

    def _drop_head_view(self, view: View) -> None:
        self._lose(self._head_loss(), view)

    def _evict(self, need: int) -> None:
        """Drop the oldest queued events until `need` fit (drop-oldest).
        Loss records of other stages or reasons and notices keep their place."""
        loss = self._head_loss()
        self.queue.popleft()
        kept: list[Entry] = []
        while need > 0 and self.queue:
            entry = self.queue.popleft()
            if isinstance(entry, ClientLoss) and entry.reason == "drop-oldest":
                loss.absorb(entry)
                continue
            if not isinstance(entry, View) or not entry.is_event:
                kept.append(entry)
                continue
            k = min(need, len(entry))
            if k < len(entry):
                self.queue.appendleft(entry.tail(len(entry) - k))
            self._lose(loss, entry.head(k))
            self.depth -= k
            need -= k
        self.queue.extendleft(reversed(kept))
        if loss.count:
            self.queue.appendleft(loss)

    def _overflow_disconnect(self, view: View) -> None:
        """Policy "disconnect": everything queued is dropped with the new
        events, reported in one loss record, and the stream ends once the
        writer has sent that record and the end frame."""
        loss = ClientLoss("disconnect")
        kept: list[Entry] = []
        for e in self.queue:
            if isinstance(e, View) and e.is_event:
                self._lose(loss, e)
            elif isinstance(e, ClientLoss) and e.reason == self.policy:
                loss.absorb(e)
            else:
                kept.append(e)  # kernel/daemon losses, notices, a replay gap: still told
        self._lose(loss, view)
        self.depth = 0
        self.queue.clear()
        self.queue.extend(kept)
        self.queue.append(loss)
        self.closed = "overflow"
        self._wake.set()

    def tell(self, loss: ClientLoss) -> None:
        """Queue a loss record the hub made for this client (a replay gap)."""
        self.queue.append(loss)
        self._wake.set()

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
                if isinstance(entry, ClientLoss):
                    self.lost_records += 1
                    self.reported[entry.reason] += entry.count
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
        self._inflight = out  # what cut() counts if the write never completes
        if self.done:
            self._past_limit()
            self.close("limit")
        return out

    def _past_limit(self) -> None:
        """The client has all it asked for: events still queued were matched
        but will never be sent, which is no loss (it asked to stop)."""
        kept: list[Entry] = []
        for e in self.queue:
            if isinstance(e, View) and e.is_event:
                self.matched -= len(e)
                self.depth -= len(e)
            else:
                kept.append(e)
        self.queue.clear()
        self.queue.extend(kept)

    def sent(self, n: int) -> None:
        """The writer wrote the `n` events it took: only now are they delivered."""
        self.sending -= n
        self.delivered += n
        self._inflight = []

    def cut(self, reason: Reason) -> None:
        """The stream ends now (`reason`): events queued or being written
        will never be delivered and count as lost for that reason; loss
        records and notices stay queued for a last best-effort write."""
        for e in self._inflight:
            if isinstance(e, View) and e.is_event:
                self._count_view(reason, e)
        self._inflight = []
        self.sending = 0
        kept: list[Entry] = []
        for e in self.queue:
            if _is_events(e):
                assert isinstance(e, View)
                self._count_view(reason, e)
            else:
                kept.append(e)
        self.queue.clear()
        self.queue.extend(kept)
        self.depth = 0
        self.close(reason)

    def final_losses(self) -> list[ClientLoss]:
        """Loss this client has not been told about yet, one record per
        reason: what ends its stream, before the end frame."""
        pending: Counter[Reason] = Counter()
        for (reason, _t), n in self.lost.items():
            pending[reason] += n
        out = []
        for reason, n in pending.items():
            left = n - self.reported[reason]
            if left > 0 and reason != "replay-gap":  # gaps are told when the stream starts
                out.append(ClientLoss(reason, left, note="not told in-stream before the end"))
                self.reported[reason] += left
        return out

    @property
    def lost_total(self) -> int:
        return sum(self.lost.values())

    def lost_by_reason(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (reason, _t), n in self.lost.items():
            out[reason] += n
        return dict(out)

    @property
    def dropped(self) -> int:
        """Events the server dropped for this client (back-pressure reasons)."""
        return sum(n for (reason, _t), n in self.lost.items() if reason in BACKPRESSURE)

    @property
    def done(self) -> bool:
        return self.limit is not None and self.delivered + self.sending >= self.limit

    def drained_and_closed(self) -> bool:
        """True when the stream should end: closed, with nothing left to send."""
        return self.closed is not None and (not self.queue or self.done)

    def status(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "peer": self.peer, "filter": self.filter.as_dict(),
                "policy": self.policy, "max_queue": self.max_queue, "limit": self.limit, "batch": self.batch,
                "queue_depth": self.depth, "sending": self.sending, "matched": self.matched,
                "delivered": self.delivered, "dropped": self.dropped, "lost": self.lost_by_reason(),
                "connected_at": self.connected_at}  # fmt: skip
