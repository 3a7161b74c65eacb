"""What every fleet handler shares."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .hosts import Hosts

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = ["FLEET", "FleetState"]


@dataclass
class FleetState:
    nc: Client
    source: str  # the URL, without credentials
    hosts: Hosts
    token: str | None = None
    allowed_hosts: frozenset[str] | None = None
    started: float = field(default_factory=time.time)
    clients: int = 0
    delivered: int = 0  # events written to stream clients
    streams: set[asyncio.Task[Any]] = field(default_factory=set)


FLEET = web.AppKey("fleet", FleetState)
