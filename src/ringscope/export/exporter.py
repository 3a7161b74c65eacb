"""The exporter: a hub tap that hands every block to JetStream, on its own
thread with its own asyncio loop, so that neither a slow server nor a
reconnect ever blocks the hub (which only appends to the outbox).

Life: start() runs the thread, which connects (retrying every second while
the server cannot be reached, saying so once on stderr), makes sure the
stream exists, then publishes until close(). close() waits a little for
what is left, moves the rest to the spool (or counts it lost without one)
and joins the thread. Heartbeats with the counters go on `.status` every
HEARTBEAT seconds; loss is published on `.lost` as records of stage
"export". Thread-safety: offer() and status() from any thread."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import RingscopeError
from ..events.records import Chunk, Lost
from ..hub import BLOCK_MAX, Block
from ..jetstream import NatsTarget, StreamSpec, connect, ensure_stream
from ..jetstream.subjects import LOST, subject
from .message import Message, block_messages, run_id, status_message
from .publisher import Publisher
from .queue import DEFAULT_MEMORY, Outbox
from .spool import Spool

if TYPE_CHECKING:
    from nats.aio.client import Client

    from ..events.mixed import Mixed

__all__ = ["HEARTBEAT", "Exporter"]

HEARTBEAT = 1.0  # seconds between status messages
RETRY = 1.0  # seconds between connection attempts


class Exporter:
    def __init__(self, target: NatsTarget, host: str, stream: StreamSpec, *, spool_dir: str | None = None,
                 spool_limit: int = 256 << 20, memory: int = DEFAULT_MEMORY) -> None:  # fmt: skip
        self.target = target
        self.host = host
        self.stream = stream
        self.run = run_id()
        self.outbox = Outbox(Spool(spool_dir, spool_limit) if spool_dir else None, memory)
        self.connected = False
        self.error: str | None = None  # the last connection error, for /api/status
        self.reconnects = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._first = threading.Event()  # set after the first connection attempt
        self._quiet = False
        self._publisher: Publisher | None = None
        self._loss_reports = 0
        self._report: Message | None = None  # a loss record published and not yet acked
        self._report_n = 0  # the events it reports

    # -- the hub's side (any thread) --

    def __call__(self, block: Block) -> None:
        """The hub tap: every block, as one message (never waits, never raises)."""
        self.outbox.offer(block_messages(block, self.host, self.run))

    def offer_items(self, items: list[Chunk | Mixed | Lost]) -> None:
        """The items of one poll (trace): blocks as the hub makes them."""
        for item in items:
            pieces: list[Chunk] | list[Mixed] | list[Lost] = (
                [item] if isinstance(item, Lost) else item.pieces(BLOCK_MAX)
            )
            for piece in pieces:
                self(Block(piece))

    # -- life --

    def start(self, *, wait: bool = False) -> None:
        """Run the thread. With `wait`, the first connection must succeed:
        RingscopeError (one line) if it does not."""
        self._quiet = wait  # the caller says why it failed; no "retrying" line
        self._thread = threading.Thread(target=self._main, name="ringscope-export", daemon=True)
        self._thread.start()
        self._first.wait()
        if wait and not self.connected:
            self.close(timeout=0)
            raise RingscopeError(self.error or f"cannot connect to NATS at {self.target.shown}")

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is left within `timeout` seconds, spool (or count as
        lost) the rest, stop the thread."""
        if self._thread is None:
            return
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            deadline = time.monotonic() + timeout
            while self.connected and time.monotonic() < deadline and self._busy():
                time.sleep(0.01)
            loop.call_soon_threadsafe(stop.set)
        self._thread.join()
        self._thread = None
        if self.outbox.spool is not None:
            self.outbox.spill_all()
        else:
            self.outbox.drop_all()
        self.outbox.close()

    def _busy(self) -> bool:
        c = self.outbox.counters()
        return bool(self.outbox.waiting or c["in_flight"] or self.outbox.unreported)

    def _main(self) -> None:
        asyncio.run(self._amain())

    async def _amain(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        nc = await self._connect()
        if nc is None:
            return
        try:
            await self._serve(nc)
        finally:
            self.connected = False
            await nc.close()

    async def _connect(self) -> Client | None:
        """Connect and make the stream, retrying until stopped."""
        assert self._stop is not None
        told = False
        while not self._stop.is_set():
            try:
                nc = await connect(self.target, name=f"ringscope-export-{self.host}")
                await ensure_stream(nc.jetstream(), self.stream)
            except RingscopeError as e:
                self.error = str(e)
                self._first.set()
                if not told and not self._quiet:
                    print(f"ringscope: export: {e}; retrying every {RETRY:g} s", file=sys.stderr, flush=True)
                    told = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), RETRY)
                continue
            self.connected, self.error = True, None
            if told:
                print(f"ringscope: export: connected to {self.target.shown}", file=sys.stderr, flush=True)
            self._first.set()
            return nc
        self._first.set()
        return None

    async def _serve(self, nc: Client) -> None:
        assert self._stop is not None
        js = nc.jetstream()
        self._publisher = Publisher(nc, js, self.outbox)
        beat = asyncio.get_running_loop().create_task(self._heartbeat(nc))
        try:
            await self._publisher.run(self._stop)
        finally:
            beat.cancel()
            await self._publisher.drain(1.0 if nc.is_connected else 0)

    async def _heartbeat(self, nc: Client) -> None:
        """Status every HEARTBEAT, and the export loss not yet published."""
        while True:
            self.connected = nc.is_connected
            self.reconnects = nc.stats.get("reconnects", 0)
            if nc.is_connected:
                await self._report_loss(nc)
                msg = status_message(self.host, orjson.dumps(self.status()))
                await nc.publish(msg.subject, msg.payload)
            await asyncio.sleep(HEARTBEAT)

    async def _report_loss(self, nc: Client) -> None:
        """Publish one `lost` record (stage export) for the loss not yet
        reported. A record that was not acked goes again unchanged, same
        id, so it is stored once; later loss waits for the next record."""
        if self._report is None:
            n = self.outbox.unreported
            if not n:
                return
            self._loss_reports += 1
            row = {"type": "lost", "stage": "export", "reason": "spool-full", "count": n,
                   "ts_ns": time.monotonic_ns(), "host": self.host}  # fmt: skip
            self._report = Message(subject(self.host, LOST), f"{self.host}:{self.run}:export-{self._loss_reports}",
                                   "lost", 0, orjson.dumps(row) + b"\n")  # fmt: skip
            self._report_n = n
        msg = self._report
        try:
            await nc.jetstream().publish(msg.subject, msg.payload, headers=msg.headers(), timeout=2.0)
        except Exception:
            return  # the next heartbeat tries again
        self._report = None
        self.outbox.reported(self._report_n)

    # -- observability --

    def status(self) -> dict[str, Any]:
        pub = self._publisher
        return {"host": self.host, "url": self.target.shown, "stream": self.stream.name,
                "connected": self.connected, "error": self.error, "reconnects": self.reconnects,
                "acks_pending": pub.pending if pub else 0, "publish_errors": pub.errors if pub else 0,
                **self.outbox.counters()}  # fmt: skip
