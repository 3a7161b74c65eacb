"""Publishing with acknowledgements in flight: up to `window` messages
published and not yet acknowledged, so that the round trip to the server
is paid once per window, not once per message.

A message whose ack does not come within `ack_timeout` (the server is slow,
down, or the connection broke) goes back to the outbox to be published
again with the same Nats-Msg-Id: JetStream stores it once. Runs on the
exporter's own event loop."""

from __future__ import annotations

import asyncio
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
        self._room = asyncio.Semaphore(window)
        self._tasks: set[asyncio.Task[None]] = set()
        self.errors = 0
        self.last_error: str | None = None

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish what the outbox holds until `stop` is set."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            if not self.nc.is_connected:
                await asyncio.sleep(0.05)  # nats-py reconnects; publishing now only fills its buffer
                continue
            free = self.window - self.pending
            msgs = self.outbox.take(free) if free else []
            if not msgs:
                # The outbox's event is a threading one: wait for it off the loop, briefly.
                if free:
                    await loop.run_in_executor(None, self.outbox.wait, 0.05)
                else:
                    await asyncio.sleep(0.001)
                continue
            for i, msg in enumerate(msgs):
                if not await self._publish(msg):
                    for rest in msgs[i + 1 :]:
                        self.outbox.retry(rest)
                    break

    async def _publish(self, msg: Message) -> bool:
        from nats.errors import Error as NatsError

        try:
            fut = await self.js.publish_async(msg.subject, msg.payload, headers=msg.headers(), wait_stall=1.0)
        except (NatsError, OSError, TimeoutError) as e:
            self._failed(e)
            self.outbox.retry(msg)
            await asyncio.sleep(0.05)
            return False
        task = asyncio.get_running_loop().create_task(self._confirm(msg, fut))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _confirm(self, msg: Message, fut: asyncio.Future[Any]) -> None:
        try:
            await asyncio.wait_for(fut, self.ack_timeout)
        except asyncio.CancelledError:
            self.outbox.retry(msg)  # stopped before the ack came: it goes to the spool
            raise
        except Exception as e:  # a timeout or the server's error: publish again
            self._failed(e)
            self.outbox.retry(msg)
            return
        self.outbox.acked(msg)

    def _failed(self, e: BaseException) -> None:
        self.errors += 1
        self.last_error = (str(e).strip() or type(e).__name__).splitlines()[0][:200]

    async def drain(self, timeout: float) -> None:
        """Wait up to `timeout` for the acks in flight, then give up on them."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))
