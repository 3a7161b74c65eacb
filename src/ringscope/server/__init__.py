"""`ringscope serve` over aiohttp: the hub's stream as SSE, WebSocket and NDJSON
(streams.py, framed by render.py), /metrics, /api/status, /api/hist, the
dashboard, and the HTTP security rules (security.py)."""

from __future__ import annotations

from .app import make_app
from .badrequest import JsonErrorRunner
from .state import ServerState

__all__ = ["JsonErrorRunner", "ServerState", "make_app"]
