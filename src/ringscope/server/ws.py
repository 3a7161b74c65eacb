"""GET /ws: the stream over WebSocket, JSON text frames. The client may send
`{"subscribe": {"types": [...], "pid": 42}}` at any time to change its
filter; the ack (or an error) comes back in order with the events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Sequence

import orjson
from aiohttp import WSMsgType, web

from ..hub import ClientFilter, Entry, Subscriber
from . import render
from .params import BadParam, parse_filter
from .state import STATE, ServerState
from .streams import Wire, bad_request, run_stream, subscribe

__all__ = ["events_ws"]

FILTER_FIELDS = ("types", "pid", "tid", "uid", "comm")


async def events_ws(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]  # a cross-origin upgrade got a 403 from origin_middleware
    try:
        sub = subscribe(request, "ws")
    except BadParam as e:
        return bad_request(e)
    ws = web.WebSocketResponse(heartbeat=state.keepalive, max_msg_size=1 << 16)
    if not ws.can_prepare(request).ok:  # a plain GET: a JSON 400 naming what is missing
        state.hub.unsubscribe(sub)
        return bad_request(BadParam("Upgrade", "not a WebSocket upgrade request"))
    try:
        await ws.prepare(request)
    except BaseException:
        state.hub.unsubscribe(sub)
        raise

    async def write(entries: Sequence[Entry]) -> None:
        for frame in render.frames(entries, sub.batch):
            await ws.send_frame(frame, WSMsgType.TEXT)

    async def end(row: bytes, reason: str) -> None:
        await ws.send_frame(row, WSMsgType.TEXT)
        await ws.close(code=1001 if reason == "shutdown" else 1000)

    writer = asyncio.create_task(run_stream(request, sub, Wire(write, end)))
    reader = asyncio.create_task(_read(state, ws, sub))
    try:
        # The first to finish (stream ended, or the client closed) ends both.
        await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (writer, reader):
            t.cancel()
        await asyncio.gather(writer, reader, return_exceptions=True)
        state.hub.unsubscribe(sub)  # already done by the writer, unless it never started
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), state.overflow_grace)
    return ws


async def _read(state: ServerState, ws: web.WebSocketResponse, sub: Subscriber) -> None:
    """Subscription changes: {"subscribe": {"types": "open,exec", "pid": 42}}."""
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        try:
            flt = parse_message(msg.data, state.hub.types)
        except BadParam as e:
            sub.notify({"type": "error", "error": str(e), "param": e.param})
            continue
        # The ack goes through the queue: events of the old filter already
        # queued arrive before it, and only the new filter's after it.
        state.hub.change_filter(sub, flt)
        sub.notify({"type": "subscribed", "filter": flt.as_dict()})


def parse_message(data: str, known: Collection[str]) -> ClientFilter:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise BadParam("message", "not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("subscribe"), dict):
        raise BadParam("message", 'expected {"subscribe": {...filter...}}')
    q: dict[str, str] = {}
    for key, value in doc["subscribe"].items():
        if key not in FILTER_FIELDS:
            raise BadParam(key, f"unknown filter field (known: {', '.join(FILTER_FIELDS)})")
        if value is None:
            continue
        q[key] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return parse_filter(q, known)
