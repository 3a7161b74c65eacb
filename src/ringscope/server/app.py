"""The aiohttp application: routes, status, and the shutdown sequence.

aiohttp because it is one mature package that does HTTP/1.1 server, chunked
streaming, WebSocket (server and client, which the tests use) and TLS on
asyncio, which the reader already runs on; no ASGI layer between the hub and
the socket."""

from __future__ import annotations

import asyncio
import gc
import os
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

from aiohttp import web

from .. import features
from ..hub import Hub
from .badrequest import utf8_query_middleware
from .hist_route import HIST_LOCK, api_hist
from .metrics import render_metrics
from .security import auth_middleware, host_middleware, origin_middleware
from .state import STATE, ServerState
from .streams import events_ndjson, events_sse, events_ws

__all__ = ["make_app"]

STATIC = Path(str(files("ringscope.server") / "static"))


async def healthz(request: web.Request) -> web.Response:
    error = request.app[STATE].hub.error
    if error is not None:
        return web.json_response({"ok": False, "error": error}, status=503)
    return web.json_response({"ok": True})


async def metrics(request: web.Request) -> web.Response:
    body = render_metrics(request.app[STATE].hub)
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def _session_status(state: ServerState) -> dict[str, Any]:
    s = state.session
    if s is None:
        return {}
    programs = [
        f"{stem}:{p.name}" for stem, obj in s.objects.items() for p in obj.programs.values() if p.autoload
    ]
    return {"programs": programs, "links": len(s.links), "ring_size": s.ring_size, "transport": s.transport,
            "events": [spec.name for spec in s.specs], "base_filter": repr(s.filter)}  # fmt: skip


async def status(request: web.Request) -> web.Response:
    state = request.app[STATE]
    doc = {
        "pid": os.getpid(),
        "uptime_s": round(time.time() - state.hub.started, 3),
        **_session_status(state),
        "features": features.probe().as_dict(),
        "client_queue": state.client_queue,
        **state.hub.status(),
    }
    return web.json_response(doc, dumps=_dumps)


def _dumps(obj: Any) -> str:
    import orjson

    return orjson.dumps(obj, default=str).decode()


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def _start_hub(app: web.Application) -> None:
    # The hot path makes and drops many short-lived dicts (Chunk.rows): with
    # the default thresholds the collector runs every 700 of them and, with
    # full scans of everything imported, it nearly doubles the encode cost.
    # Long-lived startup objects are frozen out of collection instead.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    app[STATE].hub.start()


async def _shutdown(app: web.Application) -> None:
    """Close every stream with a final frame, then let the writers finish."""
    state = app[STATE]
    await state.hub.stop("shutdown")
    deadline = time.monotonic() + state.shutdown_grace
    while state.streams and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


def make_app(state: ServerState) -> web.Application:
    """The application over a hub. Starting it starts the hub's reader;
    shutting it down (SIGTERM/SIGINT via the runner) ends every stream.
    Run it with badrequest.JsonErrorRunner so unparsable requests get JSON too."""
    hosts = host_middleware(lambda: state.allowed_hosts)
    app = web.Application(
        middlewares=[hosts, origin_middleware(), auth_middleware(state.token), utf8_query_middleware]
    )
    app[STATE] = state
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/status", status)
    app.router.add_get("/api/hist", api_hist)
    app[HIST_LOCK] = asyncio.Lock()
    app.router.add_get("/events", events_sse)
    app.router.add_get("/events.ndjson", events_ndjson)
    app.router.add_get("/ws", events_ws)
    app.router.add_static("/static/", STATIC)
    app.on_startup.append(_start_hub)
    app.on_shutdown.append(_shutdown)
    return app


def hub_state(hub: Hub, **kw: Any) -> ServerState:
    return ServerState(hub=hub, **kw)
