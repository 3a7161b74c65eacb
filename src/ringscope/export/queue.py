"""The outbox: messages between the hub (which never waits) and the
publisher (which waits for acks), bounded, with every event accounted for.

The hub thread offers; the exporter thread takes, and says per message
whether JetStream acknowledged it (acked) or not (retry: it goes back to the
front). Messages wait in memory up to `memory` bytes; past that the oldest
go to the spool, so the spool always holds the oldest and is taken from
first, keeping the order. Without a spool, or when the spool is over its
limit, the oldest are dropped and counted: at every moment

    produced == delivered + lost + waiting + in_flight   (events)

Thread-safe: one lock around everything."""

from __future__ import annotations

import threading
from collections import deque

from .message import Message
from .spool import Spool

__all__ = ["DEFAULT_MEMORY", "Outbox"]

DEFAULT_MEMORY = 32 << 20  # bytes of messages held in memory before the spool (or drops)


class Outbox:
    def __init__(self, spool: Spool | None = None, memory: int = DEFAULT_MEMORY) -> None:
        self.spool = spool
        self.memory = memory
        self._mem: deque[Message] = deque()
        self._retry: deque[Message] = deque()  # taken, not acked: first to go again
        self._mem_bytes = 0
        self._mem_events = 0
        self._lock = threading.Lock()
        self._ready = threading.Event()  # set when there may be something to take
        self.produced = 0
        self.delivered = 0
        self.lost = 0  # events dropped (spool full, or no spool and memory full)
        self.unreported = 0  # of `lost`, not yet published as a loss record
        self.in_flight = 0  # events taken, neither acked nor given back
        self.messages_acked = 0
        self.retries = 0
        self._unreadable_seen = 0

    # -- the hub's side --

    def offer(self, msgs: list[Message]) -> None:
        with self._lock:
            for msg in msgs:
                self.produced += msg.count
                self._mem.append(msg)
                self._mem_bytes += msg.size
                self._mem_events += msg.count
            while self._mem_bytes > self.memory and self._mem:
                self._spill(self._mem.popleft())
        self._ready.set()

    def _spill(self, msg: Message) -> None:
        self._mem_bytes -= msg.size
        self._mem_events -= msg.count
        self._spill_one(msg)

    def _lose(self, n: int) -> None:
        self.lost += n
        self.unreported += n

    # -- the publisher's side --

    def take(self, n: int) -> list[Message]:
        """Up to `n` messages, oldest first: retries, then spool, then memory."""
        out: list[Message] = []
        with self._lock:
            while len(out) < n and self._retry:
                out.append(self._retry.popleft())
            while len(out) < n and self.spool is not None and len(self.spool):
                msg = self.spool.take()
                if msg is None:
                    break
                out.append(msg)
            self._check_unreadable()
            while len(out) < n and self._mem:
                msg = self._mem.popleft()
                self._mem_bytes -= msg.size
                self._mem_events -= msg.count
                out.append(msg)
            self.in_flight += sum(m.count for m in out)
            if not out:
                self._ready.clear()
        return out

    def _check_unreadable(self) -> None:
        if self.spool is not None and self.spool.unreadable != self._unreadable_seen:
            self._lose(self.spool.unreadable - self._unreadable_seen)
            self._unreadable_seen = self.spool.unreadable

    def acked(self, msg: Message) -> None:
        with self._lock:
            self.in_flight -= msg.count
            self.delivered += msg.count
            self.messages_acked += 1

    def retry(self, msg: Message) -> None:
        """`msg` was not acknowledged: it goes again first (same id: no duplicate)."""
        with self._lock:
            self.in_flight -= msg.count
            self.retries += 1
            self._retry.appendleft(msg)
        self._ready.set()

    def reported(self, n: int) -> None:
        """A loss record for `n` lost events was stored in JetStream."""
        with self._lock:
            self.unreported -= n

    def wait(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    @property
    def waiting(self) -> int:
        """Events offered and not yet taken (memory, spool, retries)."""
        with self._lock:
            spooled = self.spool.events if self.spool is not None else 0
            return self._mem_events + spooled + sum(m.count for m in self._retry)

    def counters(self) -> dict[str, int]:
        with self._lock:
            spool = self.spool
            return {"produced": self.produced, "delivered": self.delivered, "lost": self.lost,
                    "in_flight": self.in_flight, "memory_events": self._mem_events,
                    "memory_bytes": self._mem_bytes, "retry_events": sum(m.count for m in self._retry),
                    "spool_events": spool.events if spool else 0, "spool_bytes": spool.bytes if spool else 0,
                    "spool_messages": len(spool) if spool else 0, "messages_acked": self.messages_acked,
                    "retries": self.retries}  # fmt: skip

    def drop_all(self) -> int:
        """Count everything still held in memory as lost (a close without a
        spool that could not deliver it); returns the events."""
        with self._lock:
            n = self._mem_events + sum(m.count for m in self._retry)
            self._mem.clear()
            self._retry.clear()
            self._mem_bytes = self._mem_events = 0
            self._lose(n)
            return n

    def spill_all(self) -> None:
        """Move everything still in memory to the spool (a close that could
        not deliver it): the next run replays it."""
        with self._lock:
            held = [*self._retry, *self._mem]
            self._retry.clear()
            self._mem.clear()
            for msg in held:
                self._spill_one(msg)
            self._mem_bytes = self._mem_events = 0

    def _spill_one(self, msg: Message) -> None:
        if self.spool is None:
            self._lose(msg.count)
        else:
            self._lose(self.spool.put(msg))

    def close(self) -> None:
        with self._lock:
            if self.spool is not None:
                self.spool.close()
