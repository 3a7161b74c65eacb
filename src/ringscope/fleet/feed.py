"""The fleet feed: what hosts exported, read back from JetStream for one
HTTP client at a time, through an ordered consumer of its own.

A client's `host=` and `types=` become the consumer's subject filter when
they name one host and one type (nats-server 2.9 takes a single filter per
consumer); anything wider is a wildcard filter, checked here per message on
the subject's host token and the exact type header (Ringscope-Type). Loss
records (`.lost`) reach a client unless it asked for a single type.

Positions are JetStream stream sequences: a client resumes after sequence
N (SSE Last-Event-ID, or `after=N`) with a consumer that starts at N+1.
Every event gets a `host` field, spliced into the NDJSON the host made."""

from __future__ import annotations

import fnmatch
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..export.message import COUNT, TYPE
from ..jetstream.subjects import LOST, STATUS, filter_subject, host_of

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext

    PushSubscription = JetStreamContext.PushSubscription

__all__ = ["FleetFilter", "FleetMessage", "messages", "subscribe", "with_host"]


@dataclass(frozen=True)
class FleetFilter:
    hosts: frozenset[str] | None = None  # host= (exact names)
    types: frozenset[str] | None = None  # types= (exact type names, `lost` included)
    pattern: str | None = None  # serve --hosts PATTERN (a shell pattern)

    def subject(self) -> str:
        one_host = next(iter(self.hosts)) if self.hosts is not None and len(self.hosts) == 1 else None
        if self.pattern is not None and one_host is None and not any(c in self.pattern for c in "*?["):
            one_host = self.pattern
        one_type = next(iter(self.types)) if self.types is not None and len(self.types) == 1 else None
        return filter_subject(one_host, one_type)

    def wants_host(self, host: str) -> bool:
        if self.hosts is not None and host not in self.hosts:
            return False
        return self.pattern is None or fnmatch.fnmatchcase(host, self.pattern)

    def wants_type(self, type_name: str) -> bool:
        return self.types is None or type_name in self.types or (type_name == "lost" and len(self.types) > 1)


@dataclass(frozen=True, slots=True)
class FleetMessage:
    seq: int  # the stream sequence
    host: str
    type_name: str
    count: int  # events in it (0 for a loss record)
    ndjson: bytes  # with `host` in every row


def with_host(payload: bytes, host: str) -> bytes:
    """Every row of `payload` (NDJSON of objects) with `"host"` first."""
    if not payload:
        return payload
    field = b'{"host":"' + host.encode() + b'",'
    return field + payload[1:].replace(b"\n{", b"\n" + field)


async def subscribe(nc: Client, flt: FleetFilter, after: int | None) -> PushSubscription:
    """An ordered consumer for `flt`, from stream sequence after+1 (or new
    messages only when `after` is None). The caller unsubscribes."""
    from nats.js.api import ConsumerConfig, DeliverPolicy

    if after is None:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
    else:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1)
    return await nc.jetstream().subscribe(flt.subject(), ordered_consumer=True, config=config)


async def messages(sub: PushSubscription, flt: FleetFilter) -> AsyncIterator[FleetMessage]:
    """The messages of `sub` that `flt` wants, until the caller stops iterating."""
    async for msg in sub.messages:
        item = _message(msg, flt)
        if item is not None:
            yield item


def _message(msg: Msg, flt: FleetFilter) -> FleetMessage | None:
    host = host_of(msg.subject)
    token = msg.subject.rsplit(".", 1)[-1]
    if token == STATUS or not flt.wants_host(host):
        return None
    headers = msg.headers or {}
    type_name = "lost" if token == LOST else headers.get(TYPE, token)
    if not flt.wants_type(type_name):
        return None
    count = int(headers.get(COUNT, "0")) if type_name != "lost" else 0
    return FleetMessage(msg.metadata.sequence.stream, host, type_name, count, with_host(msg.data, host))
