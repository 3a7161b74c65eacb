"""`ringscope serve`: the hub's stream over SSE, WebSocket and NDJSON."""

from __future__ import annotations

from .app import make_app
from .badrequest import JsonErrorRunner
from .state import ServerState

__all__ = ["JsonErrorRunner", "ServerState", "make_app"]
