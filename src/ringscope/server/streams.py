"""The streaming endpoints' common part: one subscriber and one writer loop
per stream. Wait for the queue, take a batch, render it once, write it with
a timeout; the hub never waits for us, we only ever wait for our socket.

Every stream ends the same way, whatever ends it (its limit, policy
disconnect, a send timeout, shutdown): a `lost` record for what the client
missed and has not been told about, then an `end` frame with the reason and
the client's counters. When the client cannot take them (a send timeout, a
dead socket) they are tried briefly and the loss is counted all the same."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from ..hub import Entry, Subscriber
from . import render
from .params import BadParam, parse_subscription
from .state import STATE, ServerState

__all__ = ["Full", "Wire", "bad_request", "run_stream", "subscribe"]

MAX_TAKE = 8192  # events per write: big enough to amortise, small enough to stay responsive


@dataclass(frozen=True)
class Wire:
    """How one protocol writes a stream."""

    write: Callable[[Sequence[Entry]], Awaitable[None]]  # queue entries
    end: Callable[[bytes, str], Awaitable[None]]  # the end row (JSON), and the reason
    idle: Callable[[], Awaitable[None]] | None = None  # a keepalive, when nothing was sent for a while


class Full(BadParam):
    """Too many stream clients: each holds a bounded queue, and so must their number."""


def bad_request(e: BadParam) -> web.Response:
    if isinstance(e, Full):
        return web.json_response(
            {"error": str(e), "param": e.param}, status=503, headers={"Retry-After": "5"}
        )
    return web.json_response({"error": str(e), "param": e.param}, status=400)


def subscribe(request: web.Request, kind: str, resume_after: int | None = None) -> Subscriber:
    """A subscriber for this request's query (BadParam if it is bad)."""
    state = request.app[STATE]
    hub = state.hub
    sub = parse_subscription(request.query, hub.types)
    if len(hub.subscribers) >= state.max_clients:
        raise Full("clients", f"already {len(hub.subscribers)} stream clients (the maximum)")
    peer = request.remote or ""
    return hub.subscribe(sub.filter, kind=kind, peer=peer, policy=sub.policy, max_queue=state.client_queue,
                         limit=sub.limit, batch=sub.batch, resume_after=resume_after)  # fmt: skip


async def _pump(state: ServerState, request: web.Request, sub: Subscriber, wire: Wire) -> None:
    """Move the subscriber's queue to the socket until the stream ends."""
    while not sub.drained_and_closed():
        if not await sub.wait(state.keepalive):
            transport = request.transport
            if transport is None or transport.is_closing():
                raise ConnectionResetError("client went away")
            if wire.idle is not None:
                await asyncio.wait_for(wire.idle(), state.send_timeout)
            continue
        entries = sub.take(MAX_TAKE)
        if entries:
            # Delivered once written; if the write fails, they are lost (cut()).
            await asyncio.wait_for(wire.write(entries), state.send_timeout)
            state.hub.note_delivered(sub, entries)


async def _finish(sub: Subscriber, wire: Wire) -> None:
    """What the client missed and was not told yet, then the end frame."""
    losses = sub.final_losses()
    if losses:
        await wire.write(losses)
    reason = sub.closed or "end"
    await wire.end(render.end_row(reason, delivered=sub.delivered, dropped=sub.dropped,
                                  lost=sub.lost_by_reason()), reason)  # fmt: skip


async def run_stream(request: web.Request, sub: Subscriber, wire: Wire) -> None:
    """Write `sub`'s stream through `wire` until it ends; unsubscribe, with
    whatever could not be sent counted under its reason."""
    state = request.app[STATE]
    state.streams[id(request)] = request
    try:
        await _pump(state, request, sub, wire)
        await asyncio.wait_for(_finish(sub, wire), state.send_timeout)
    except ConnectionError:
        pass  # the client went away: unsubscribe() counts what it had queued
    except TimeoutError:
        # The client stopped reading. What it had queued is lost to the send
        # timeout; tell it if it can still take that, briefly, then cut.
        sub.cut("send-timeout")
        with contextlib.suppress(ConnectionError, TimeoutError, RuntimeError):
            await asyncio.wait_for(_finish(sub, wire), state.overflow_grace)
        if request.transport is not None:
            request.transport.abort()
    finally:
        state.streams.pop(id(request), None)
        state.hub.unsubscribe(sub, "shutdown" if sub.closed == "shutdown" else "departed")
