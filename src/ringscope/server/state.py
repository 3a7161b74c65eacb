"""Server-wide settings and the objects every handler shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from ..hub import DEFAULT_CLIENT_QUEUE, Hub
from .aggregates import AggregateSet

if TYPE_CHECKING:
    from ..session import Session

__all__ = ["STATE", "Export", "ServerState"]


class Export(Protocol):
    """Where the stream is also published (serve --export): its counters."""

    def status(self) -> dict[str, Any]: ...


@dataclass
class ServerState:
    hub: Hub
    session: Session | None = None  # for /api/status (programs, ring size); None in unit tests
    token: str | None = None
    allowed_hosts: frozenset[str] | None = None  # Host header values accepted (None: any)
    client_queue: int = DEFAULT_CLIENT_QUEUE
    max_clients: int = 256  # streams at once: with client_queue, this bounds memory
    keepalive: float = 15.0  # seconds between SSE comments / WS pings when idle
    send_timeout: float = 30.0  # a write that cannot complete this fast ends the stream
    overflow_grace: float = 1.0  # time for the final frames to a client whose send timed out
    shutdown_grace: float = 2.0  # time streams get to finish at shutdown before they are cut
    streams: dict[int, web.Request] = field(default_factory=dict)  # requests streaming now, by id()
    aggregates: AggregateSet = field(default_factory=AggregateSet)  # serve --aggregate, /api/aggregates
    drop_caps: bool = False  # serve --drop-caps: give every capability up once attached and bound
    dropped_caps: bool = False  # ... which it did
    export: Export | None = None  # serve --export: /api/status and /metrics show its counters


STATE = web.AppKey("ringscope", ServerState)
