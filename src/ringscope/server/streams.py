"""The three streaming endpoints. Each is one subscriber and one writer
loop: wait for the queue, take a batch, render it once, write it with a
timeout. The hub never waits for us; we only ever wait for our socket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Collection, Sequence

import orjson
from aiohttp import WSMsgType, web

from ..errors import BadInput
from ..hub import ClientFilter, Entry, Subscriber
from ..numbers import parse_int
from . import render
from .params import BadParam, parse_filter, parse_subscription
from .state import STATE, ServerState

__all__ = ["events_ndjson", "events_sse", "events_ws"]

MAX_TAKE = 8192  # events per write: big enough to amortise, small enough to stay responsive
Write = Callable[[Sequence[Entry]], Awaitable[None]]


def bad_request(e: BadParam) -> web.Response:
    if isinstance(e, Full):
        return web.json_response(
            {"error": str(e), "param": e.param}, status=503, headers={"Retry-After": "5"}
        )
    return web.json_response({"error": str(e), "param": e.param}, status=400)


class Full(BadParam):
    """Too many stream clients: each holds a bounded queue, and so must their number."""


def _subscribe(request: web.Request, kind: str, resume_after: int | None = None) -> Subscriber:
    state = request.app[STATE]
    hub = state.hub
    sub = parse_subscription(request.query, hub.codes.keys())
    if len(hub.subscribers) >= state.max_clients:
        raise Full("clients", f"already {len(hub.subscribers)} stream clients (the maximum)")
    peer = request.remote or ""
    s = hub.subscribe(sub.filter, kind=kind, peer=peer, policy=sub.policy, max_queue=state.client_queue,
                      limit=sub.limit, batch=sub.batch, resume_after=resume_after)  # fmt: skip
    transport = request.transport
    if transport is not None:
        # A stalled client cannot take its final frames; cut it after a grace period.
        loop = asyncio.get_running_loop()

        def cut() -> None:
            loop.call_later(state.overflow_grace, transport.close)

        s.on_overflow = cut
    return s


async def _pump(state: ServerState, request: web.Request, sub: Subscriber, write: Write,
                idle: Callable[[], Awaitable[None]] | None) -> None:  # fmt: skip
    """Move the subscriber's queue to the socket until the stream ends."""
    while not sub.drained_and_closed():
        if not await sub.wait(state.keepalive):
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            if idle is not None:
                await asyncio.wait_for(idle(), state.send_timeout)
            continue
        entries = sub.take(MAX_TAKE)
        if entries:
            # Delivered once written; if the write fails, unsubscribe() counts them as dropped.
            await asyncio.wait_for(write(entries), state.send_timeout)
            state.hub.note_delivered(sub, entries)


def _end_fields(sub: Subscriber) -> dict[str, object]:
    return {"delivered": sub.delivered, "dropped": sub.dropped}


Idle = Callable[[], Awaitable[None]] | None


async def _stream(request: web.Request, resp: web.StreamResponse, sub: Subscriber, write: Write,
                  final: Callable[[bytes], bytes], idle: Idle) -> None:  # fmt: skip
    state = request.app[STATE]
    state.streams.add(resp)
    try:
        await _pump(state, request, sub, write, idle)
        if sub.closed is not None:
            end = final(render.end_row(sub.closed, **_end_fields(sub)))
            with contextlib.suppress(ConnectionError, TimeoutError):
                await asyncio.wait_for(resp.write(end), state.overflow_grace)
    except ConnectionError:
        pass  # the client went away: its counters say what it missed
    except TimeoutError:
        # A send that timed out: the client stopped reading. Cut the
        # connection now; finishing the response would block on it again.
        sub.close("send timeout")
        if request.transport is not None:
            request.transport.abort()
    finally:
        state.streams.discard(resp)
        state.hub.unsubscribe(sub)


async def events_ndjson(request: web.Request) -> web.StreamResponse:
    try:
        sub = _subscribe(request, "ndjson")
    except BadParam as e:
        return bad_request(e)
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson", "Cache-Control": "no-store"})
    resp.enable_chunked_encoding()
    try:
        await resp.prepare(request)
    except BaseException:
        request.app[STATE].hub.unsubscribe(sub)
        raise

    chunked = "batch" in request.query  # else: everything ready goes out in one write

    async def write(entries: Sequence[Entry]) -> None:
        if not chunked:
            await resp.write(render.ndjson(entries))
            return
        for piece in render.ndjson_chunks(entries, sub.batch):
            await resp.write(piece)

    await _stream(request, resp, sub, write, lambda end: end + b"\n", None)
    return resp


def _last_event_id(request: web.Request) -> int | None:
    text = request.headers.get("Last-Event-ID")
    if text is None or not text.strip():
        return None
    try:
        seq = parse_int(text.strip(), "Last-Event-ID")
    except BadInput:
        raise BadParam("Last-Event-ID", f"{text!r} is not a seq") from None
    if seq < -1:
        raise BadParam("Last-Event-ID", f"{seq} is not a seq")
    return seq


async def events_sse(request: web.Request) -> web.StreamResponse:
    try:
        sub = _subscribe(request, "sse", resume_after=_last_event_id(request))
    except BadParam as e:
        return bad_request(e)
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    try:
        await resp.prepare(request)
        await resp.write(b"retry: 1000\n\n")
    except BaseException:
        request.app[STATE].hub.unsubscribe(sub)
        raise

    async def write(entries: Sequence[Entry]) -> None:
        await resp.write(render.sse(entries, sub.batch))

    async def keepalive() -> None:
        await resp.write(render.sse_comment("keepalive"))

    await _stream(request, resp, sub, write, lambda end: b"event: end\ndata: " + end + b"\n\n", keepalive)
    return resp


# -- WebSocket ---------------------------------------------------------------------


async def events_ws(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]  # a cross-origin upgrade got a 403 from origin_middleware
    try:
        sub = _subscribe(request, "ws")
    except BadParam as e:
        return bad_request(e)
    ws = web.WebSocketResponse(heartbeat=state.keepalive, max_msg_size=1 << 16)
    if not ws.can_prepare(request).ok:  # a plain GET: a JSON 400, not aiohttp's text one
        state.hub.unsubscribe(sub)
        return bad_request(BadParam("Upgrade", "not a WebSocket upgrade request"))
    try:
        await ws.prepare(request)
    except BaseException:
        state.hub.unsubscribe(sub)
        raise
    state.streams.add(ws)
    writer = asyncio.create_task(_ws_writer(state, request, ws, sub))
    reader = asyncio.create_task(_ws_reader(state, ws, sub))
    try:
        # The first to finish (stream ended, or the client closed) ends both.
        await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (writer, reader):
            t.cancel()
        await asyncio.gather(writer, reader, return_exceptions=True)
        state.streams.discard(ws)
        state.hub.unsubscribe(sub)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), state.overflow_grace)
    return ws


async def _ws_writer(
    state: ServerState, request: web.Request, ws: web.WebSocketResponse, sub: Subscriber
) -> None:
    async def write(entries: Sequence[Entry]) -> None:
        for frame in render.frames(entries, sub.batch):
            await ws.send_frame(frame, WSMsgType.TEXT)

    try:
        await _pump(state, request, sub, write, None)
        if sub.closed is not None:
            end = render.end_row(sub.closed, **_end_fields(sub))
            await asyncio.wait_for(ws.send_frame(end, WSMsgType.TEXT), state.overflow_grace)
            code = 1001 if sub.closed == "shutdown" else 1000
            await asyncio.wait_for(ws.close(code=code), state.overflow_grace)
    except ConnectionError:
        pass
    except TimeoutError:
        sub.close("send timeout")
        if request.transport is not None:
            request.transport.abort()


async def _ws_reader(state: ServerState, ws: web.WebSocketResponse, sub: Subscriber) -> None:
    """Subscription changes: {"subscribe": {"types": "open,exec", "pid": 42}}."""
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        try:
            flt = _parse_ws_message(msg.data, state.hub.codes.keys())
        except BadParam as e:
            sub.notify({"type": "error", "error": str(e), "param": e.param})
            continue
        # The ack goes through the queue: events of the old filter already
        # queued arrive before it, and only the new filter's after it.
        state.hub.change_filter(sub, flt)
        sub.notify({"type": "subscribed", "filter": flt.as_dict()})


def _parse_ws_message(data: str, known: Collection[str]) -> ClientFilter:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise BadParam("message", "not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("subscribe"), dict):
        raise BadParam("message", 'expected {"subscribe": {...filter...}}')
    fields = doc["subscribe"]
    q: dict[str, str] = {}
    for key, value in fields.items():
        if key not in ("types", "pid", "tid", "uid", "comm"):
            raise BadParam(key, "unknown filter field (known: types, pid, tid, uid, comm)")
        if value is None:
            continue
        q[key] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return parse_filter(q, known)
