"""Publishing with acknowledgements in flight: up to `window` messages
published and not yet acknowledged, so that the round trip to the server
is paid once per window, not once per message.

A message whose ack does not come within `ack_timeout` (the server is slow,
down, or the connection broke) goes back to the outbox to be published
again with the same Nats-Msg-Id: JetStream stores it once. Runs on the
exporter's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from .message import Message
from .queue import Outbox

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js.client import JetStreamContext

__all__ = ["ACK_TIMEOUT", "WINDOW", "Publisher"]

WINDOW = 256  # messages awaiting their ack (nats-py's own default cap is 4000)
ACK_TIMEOUT = 2.0  # seconds


class Publisher:
    def __init__(self, nc: Client, js: JetStreamContext, outbox: Outbox, *, window: int = WINDOW,
                 ack_timeout: float = ACK_TIMEOUT) -> None:  # fmt: skip
        self.nc = nc
        self.js = js
        self.outbox = outbox
        self.window = window
        self.ack_timeout = ack_timeout
        # Published, ack awaited: the future nats-py resolves, its message, when sent.
        # Done callbacks, not a task per message: a task costs more than the publish.
        self._pending: dict[asyncio.Future[Any], tuple[Message, float]] = {}
        self._room = asyncio.Event()
        self.errors = 0
        self.last_error: str | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish what the outbox holds until `stop` is set."""
        loop = asyncio.get_running_loop()
        sweeper = loop.create_task(self._sweep())
        try:
            await self._run(stop, loop)
        finally:
            sweeper.cancel()

    async def _run(self, stop: asyncio.Event, loop: asyncio.AbstractEventLoop) -> None:
        while not stop.is_set():
            if not self.nc.is_connected:
                await asyncio.sleep(0.05)  # nats-py reconnects; publishing now only fills its buffer
                continue
            free = self.window - self.pending
            msgs = self.outbox.take(free) if free > 0 else []
            if not msgs:
                # The outbox's event is a threading one: wait for it off the loop, briefly.
                if free > 0:
                    await loop.run_in_executor(None, self.outbox.wait, 0.05)
                else:
                    self._room.clear()  # the window is full: woken by the next ack
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._room.wait(), 0.05)
                continue
            for i, msg in enumerate(msgs):
                if not await self._publish(msg, loop):
                    for rest in msgs[i + 1 :]:
                        self.outbox.retry(rest)
                    break

    async def _publish(self, msg: Message, loop: asyncio.AbstractEventLoop) -> bool:
        from nats.errors import Error as NatsError

        try:
            fut = await self.js.publish_async(msg.subject, msg.payload, headers=msg.headers(), wait_stall=1.0)
        except (NatsError, OSError, TimeoutError) as e:
            self._failed(e)
            self.outbox.retry(msg)
            await asyncio.sleep(0.05)
            return False
        self._pending[fut] = (msg, loop.time())
        fut.add_done_callback(self._done)
        return True

    def _done(self, fut: asyncio.Future[Any]) -> None:
        entry = self._pending.pop(fut, None)
        if entry is None:
            return
        self._room.set()
        msg = entry[0]
        if fut.cancelled():
            self.outbox.retry(msg)  # no ack in time (_sweep), or stopped: it goes again (or to the spool)
        elif fut.exception() is not None:
            self._failed(fut.exception())  # type: ignore[arg-type]
            self.outbox.retry(msg)
        else:
            self.outbox.acked(msg)

    async def _sweep(self) -> None:
        """Give up on acks older than ack_timeout: their messages go again."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.ack_timeout / 4)
            too_old = loop.time() - self.ack_timeout
            for fut, (_, sent) in list(self._pending.items()):
                if sent < too_old:
                    self._failed(TimeoutError("no ack"))
                    fut.cancel()

    def _failed(self, e: BaseException) -> None:
        self.errors += 1
        self.last_error = (str(e).strip() or type(e).__name__).splitlines()[0][:200]

    async def drain(self, timeout: float) -> None:
        """Wait up to `timeout` for the acks in flight, then give up on them."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout)
        for fut in list(self._pending):
            fut.cancel()
        await asyncio.sleep(0)  # let their done callbacks give the messages back
