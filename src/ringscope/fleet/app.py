"""The fleet view's HTTP side: the same endpoints and protections as a
local `serve` (/events, /events.ndjson, /api/status, /metrics, /healthz, the
dashboard), fed by JetStream (feed.py) instead of a ring. Each stream client
has its own consumer, so a slow client holds back nobody else: JetStream
keeps what it has not read yet."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Mapping

import orjson
from aiohttp import web

from ..numbers import parse_int
from ..server.app import STATIC
from ..server.errors import json_error, json_errors, utf8_query_middleware
from ..server.params import BadParam, single_valued
from ..server.security import auth_middleware, host_middleware, origin_middleware
from .feed import FleetFilter, messages, subscribe
from .metrics import exposition
from .state import FLEET, FleetState

__all__ = ["FLEET", "FleetState", "make_fleet_app"]

KEYS = ("types", "host", "limit", "after")


def _names(q: Mapping[str, str], key: str) -> frozenset[str] | None:
    if key not in q:
        return None
    names = frozenset(n.strip() for n in q[key].split(",") if n.strip())
    if not names:
        raise BadParam(key, "empty list")
    return names


def _request(request: web.Request) -> tuple[FleetFilter, int | None, int | None]:
    q = request.query
    single_valued(q)
    for key in q:
        if key not in KEYS:
            raise BadParam(key, f"unknown parameter (known: {', '.join(KEYS)})")
    flt = FleetFilter(_names(q, "host"), _names(q, "types"), request.app[FLEET].hosts.pattern)
    try:
        limit = parse_int(q["limit"], "limit", 1) if "limit" in q else None
        after_text = q.get("after", request.headers.get("Last-Event-ID", "").strip() or None)
        after = parse_int(after_text, "after", 0) if after_text is not None else None
    except Exception as e:
        raise BadParam("limit" if "limit" in q else "after", str(e)) from None
    return flt, limit, after


async def _stream(request: web.Request, sse: bool) -> web.StreamResponse:
    state = request.app[FLEET]
    try:
        flt, limit, after = _request(request)
    except BadParam as e:
        return web.json_response({"error": str(e), "param": e.param}, status=400)
    kind = "text/event-stream" if sse else "application/x-ndjson"
    resp = web.StreamResponse(headers={"Content-Type": kind, "Cache-Control": "no-store"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    try:
        sub = await subscribe(state.nc, flt, after)
    except Exception as e:  # JetStream refused the consumer: say so in the stream, which has begun
        await resp.write(b'{"type":"end","reason":"error","error":%s}\n' % orjson.dumps(str(e)[:200]))
        return resp
    state.clients += 1  # counted once its consumer exists: from here on it misses nothing
    left = limit
    try:
        async for m in messages(sub, flt):
            body = m.ndjson
            if left is not None and m.count > left:
                body = b"".join(body.splitlines(keepends=True)[:left])
            await resp.write(_sse(m.type_name, body, m.seq) if sse else body)
            state.delivered += m.count if left is None else min(m.count, left)
            if left is not None and m.type_name != "lost":
                left -= min(m.count, left)
                if left == 0:
                    break
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        state.clients -= 1
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sub.unsubscribe(), 1.0)
    with contextlib.suppress(ConnectionError, RuntimeError):
        await resp.write_eof()
    return resp


def _sse(type_name: str, ndjson: bytes, seq: int) -> bytes:
    rows = ndjson.splitlines()
    event = b"event: " + type_name.encode() + b"\ndata: "
    out = [event + r + b"\n\n" for r in rows[:-1]]
    out.append(b"id: %d\n" % seq + event + rows[-1] + b"\n\n")
    return b"".join(out)


async def events_ndjson(request: web.Request) -> web.StreamResponse:
    return await _stream(request, sse=False)


async def events_sse(request: web.Request) -> web.StreamResponse:
    return await _stream(request, sse=True)


async def status(request: web.Request) -> web.Response:
    s = request.app[FLEET]
    return web.json_response({"pid": os.getpid(), "mode": "fleet", "source": s.source,
                              "connected": s.nc.is_connected, "uptime_s": round(time.time() - s.started, 3),
                              "clients": s.clients, "delivered": s.delivered, "hosts": s.hosts.table(),
                              "host_pattern": s.hosts.pattern})  # fmt: skip


async def hosts(request: web.Request) -> web.Response:
    return web.json_response({"hosts": request.app[FLEET].hosts.table()})


async def healthz(request: web.Request) -> web.Response:
    ok = request.app[FLEET].nc.is_connected
    return web.json_response({"ok": ok} if ok else {"ok": False, "error": "NATS disconnected"},
                             status=200 if ok else 503)  # fmt: skip


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=exposition(request.app[FLEET]), content_type="text/plain", charset="utf-8")


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "fleet.html", headers={"Cache-Control": "no-store"})


async def static(request: web.Request) -> web.StreamResponse:
    root = STATIC.resolve()
    path = (root / request.match_info["path"]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return json_error(404, "no such file")
    return web.FileResponse(path)


def make_fleet_app(state: FleetState) -> web.Application:
    app = web.Application(middlewares=[json_errors, host_middleware(lambda: state.allowed_hosts),
                                       origin_middleware(), auth_middleware(state.token),
                                       utf8_query_middleware])  # fmt: skip
    app[FLEET] = state
    for path, handler in (("/", index), ("/healthz", healthz), ("/metrics", metrics), ("/api/status", status),
                          ("/api/hosts", hosts), ("/events", events_sse), ("/events.ndjson", events_ndjson),
                          ("/static/{path:.+}", static)):  # fmt: skip
        app.router.add_get(path, handler)
    return app
