"""The hosts of the fleet, as their heartbeats (`ringscope.<host>.status`)
tell them: one watcher consumer starts with the last heartbeat of every
host (deliver last-per-subject) and keeps the newest, for /api/hosts and
the dashboard's hosts panel."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import time
from typing import TYPE_CHECKING, Any

import orjson

from ..jetstream.subjects import PREFIX, STATUS, host_of

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

__all__ = ["Hosts"]


class Hosts:
    def __init__(self, pattern: str | None = None) -> None:
        self.pattern = pattern
        self.last: dict[str, dict[str, Any]] = {}
        self.seen_at: dict[str, float] = {}
        self._sub: Any = None

    async def start(self, nc: Client) -> None:
        from nats.js.api import ConsumerConfig, DeliverPolicy

        config = ConsumerConfig(deliver_policy=DeliverPolicy.LAST_PER_SUBJECT)
        self._sub = await nc.jetstream().subscribe(f"{PREFIX}.*.{STATUS}", cb=self._on, ordered_consumer=True,
                                                   config=config)  # fmt: skip

    async def _on(self, msg: Msg) -> None:
        host = host_of(msg.subject)
        if self.pattern is not None and not fnmatch.fnmatchcase(host, self.pattern):
            return
        with contextlib.suppress(orjson.JSONDecodeError):
            doc = orjson.loads(msg.data)
            if isinstance(doc, dict):
                self.last[host] = doc
                self.seen_at[host] = time.time()

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._sub.unsubscribe(), 1.0)

    def table(self) -> list[dict[str, Any]]:
        now = time.time()
        out = []
        for host in sorted(self.last):
            s = self.last[host]
            out.append({"host": host, "produced": s.get("produced", 0), "delivered": s.get("delivered", 0),
                        "lost": s.get("lost", 0), "connected": s.get("connected", False),
                        "age_s": round(now - self.seen_at[host], 1)})  # fmt: skip
        return out
