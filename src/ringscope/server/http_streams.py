"""GET /events (SSE) and GET /events.ndjson (chunked NDJSON)."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from ..errors import BadInput
from ..hub import Entry
from ..numbers import parse_int
from . import render
from .params import BadParam
from .state import STATE
from .streams import Wire, bad_request, run_stream, subscribe

__all__ = ["FINISHED", "events_ndjson", "events_sse"]

# The SSE id of the end frame of a stream that reached its `limit`: an
# EventSource resumes with it as Last-Event-ID and gets a 204, which tells
# it to stop instead of reconnecting for ever.
FINISHED = "end"


async def events_ndjson(request: web.Request) -> web.StreamResponse:
    try:
        sub = subscribe(request, "ndjson")
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

    async def end(row: bytes, reason: str) -> None:
        await resp.write(row + b"\n")

    await run_stream(request, sub, Wire(write, end))
    return resp


def _last_event_id(request: web.Request) -> int | str | None:
    text = request.headers.get("Last-Event-ID")
    if text is None or not text.strip():
        return None
    if text.strip() == FINISHED:
        return FINISHED
    try:
        seq = parse_int(text.strip(), "Last-Event-ID")
    except BadInput:  # ASCII decimal only
        raise BadParam("Last-Event-ID", f"{text!r} is not a seq") from None
    if seq < -1:
        raise BadParam("Last-Event-ID", f"{seq} is not a seq")
    return seq


async def events_sse(request: web.Request) -> web.StreamResponse:
    try:
        after = _last_event_id(request)
        if after == FINISHED:
            return web.Response(status=204)  # the stream this EventSource resumes has ended
        sub = subscribe(request, "sse", resume_after=after if isinstance(after, int) else None)
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

    async def end(row: bytes, reason: str) -> None:
        finished = b"id: %s\n" % FINISHED.encode() if reason == "limit" else b""
        await resp.write(finished + b"event: end\ndata: " + row + b"\n\n")

    async def keepalive() -> None:
        await resp.write(render.sse_comment("keepalive"))

    await run_stream(request, sub, Wire(write, end, keepalive))
    return resp
