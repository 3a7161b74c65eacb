"""The aiohttp application: routes, status, and the shutdown sequence.

aiohttp because it is one mature package that does HTTP/1.1 server, chunked
streaming, WebSocket (server and client, which the tests use) and TLS on
asyncio, which the reader already runs on; no ASGI layer between the hub and
the socket."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

from aiohttp import web

from .. import features
from .aggregate_metrics import exposition as aggregate_exposition
from .aggregate_route import add_aggregate_routes
from .errors import Runner, json_error, json_errors, utf8_query_middleware
from .hist_route import api_hist
from .http_streams import events_ndjson, events_sse
from .kernel_work import KERNEL_LOCK
from .metrics import CONTENT_TYPE, Metrics
from .params import single_valued
from .profile_route import api_profile
from .rates import Rates
from .security import auth_middleware, host_middleware, origin_middleware
from .state import STATE, ServerState
from .ws import events_ws

__all__ = ["Runner", "make_app"]

STATIC = Path(str(files("ringscope.server") / "static"))
METRICS = web.AppKey("metrics", Metrics)
RATES = web.AppKey("rates", Rates)
CUT_WAIT = 0.5  # seconds for handlers to finish once their connection is cut at shutdown


async def healthz(request: web.Request) -> web.Response:
    error = request.app[STATE].hub.error
    if error is not None:
        return web.json_response({"ok": False, "error": error}, status=503)
    return web.json_response({"ok": True})


async def metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].render() + await aggregate_exposition(request.app[STATE].aggregates)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def _session_status(state: ServerState) -> dict[str, Any]:
    s = state.session
    if s is None:
        return {"events": state.hub.types}
    programs = [
        f"{stem}:{p.name}" for stem, obj in s.objects.items() for p in obj.programs.values() if p.autoload
    ]
    return {"programs": programs, "links": len(s.links), "ring_size": s.ring_size, "transport": s.transport,
            "events": state.hub.types}  # fmt: skip


async def status(request: web.Request) -> web.Response:
    state = request.app[STATE]
    doc = {
        "pid": os.getpid(),
        "uptime_s": round(time.time() - state.hub.started, 3),
        **_session_status(state),
        "features": features.probe().as_dict(),
        "client_queue": state.client_queue,
        "auth": state.token is not None,
        **state.hub.status(),
    }
    if state.export is not None:
        export = state.export.status()
        doc["export"] = export
        doc["lost"]["export"] = export["lost"]
    return web.json_response(doc, dumps=_dumps)


async def rates(request: web.Request) -> web.Response:
    """GET /api/rates[?since=UNIX_TIME]: per-type rates, one sample a second."""
    q = request.query
    try:
        single_valued(q)
        unknown = sorted(set(q) - {"since"})
        if unknown:
            return json_error(400, f"unknown parameter {unknown[0]!r} (allowed: since)", param=unknown[0])
        since = float(q.get("since", "0"))
    except ValueError:
        return json_error(400, "bad parameter 'since': not a number", param="since")
    return web.json_response(request.app[RATES].since(since), dumps=_dumps)


def _dumps(obj: Any) -> str:
    import orjson

    return orjson.dumps(obj, default=str).decode()


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def static(request: web.Request) -> web.StreamResponse:
    """A file under static/ (the dashboard's code and vendored libraries).
    Checked here rather than by aiohttp's static route, whose 404 is an
    empty body."""
    name = request.match_info["path"]
    root = STATIC.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return json_error(404, f"no such file: /static/{name[:200]}")
    return web.FileResponse(path)


async def _start(app: web.Application) -> None:
    # The hot path makes and drops many short-lived dicts (Chunk.rows): with
    # the default thresholds the collector runs every 700 of them and, with
    # full scans of everything imported, it nearly doubles the encode cost.
    # Long-lived startup objects are frozen out of collection instead.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    app[STATE].hub.start()
    sampler = asyncio.get_running_loop().create_task(app[RATES].run(), name="ringscope-rates")
    app[SAMPLER] = sampler


async def _shutdown(app: web.Application) -> None:
    """Close every stream with its final frames; a client that has not taken
    them when the grace period ends is cut, so that shutdown takes no longer
    than that, stalled clients or not."""
    state = app[STATE]
    app[SAMPLER].cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await app[SAMPLER]
    await state.hub.stop("shutdown")
    deadline = time.monotonic() + state.shutdown_grace
    while state.streams and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    for request in list(state.streams.values()):
        if request.transport is not None:
            request.transport.abort()  # its handler ends, counting what it had queued
    deadline = time.monotonic() + CUT_WAIT
    while state.streams and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


SAMPLER = web.AppKey("sampler", asyncio.Task[None])


def make_app(state: ServerState) -> web.Application:
    """The application over a hub. Starting it starts the hub's reader;
    shutting it down (SIGTERM/SIGINT via the runner) ends every stream.
    Run it with Runner (errors.py), which makes the HTTP parser's errors
    JSON too."""
    hosts = host_middleware(lambda: state.allowed_hosts)
    app = web.Application(
        middlewares=[
            json_errors,
            hosts,
            origin_middleware(),
            auth_middleware(state.token),
            utf8_query_middleware,
        ]
    )
    app[STATE] = state
    app[METRICS] = Metrics(state.hub, state.session.transport if state.session is not None else None,
                           export=state.export)  # fmt: skip
    app[RATES] = Rates(state.hub)
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/status", status)
    app.router.add_get("/api/rates", rates)
    app.router.add_get("/api/hist", api_hist)
    app.router.add_get("/api/profile", api_profile)
    app[KERNEL_LOCK] = asyncio.Lock()
    add_aggregate_routes(app, state.aggregates)
    app.router.add_get("/events", events_sse)
    app.router.add_get("/events.ndjson", events_ndjson)
    app.router.add_get("/ws", events_ws)
    app.router.add_get("/static/{path:.+}", static)
    app.on_startup.append(_start)
    app.on_shutdown.append(_shutdown)
    return app
