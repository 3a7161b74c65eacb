"""Requests that load BPF programs or open perf events of their own
(/api/hist, /api/profile, POST /api/aggregates): one at a time, in a worker
thread, and refused with 503 once serve has dropped the capabilities they
need (--drop-caps)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from ..errors import BadInput, NotSupported, PermissionDenied, RingscopeError
from .errors import json_error
from .state import STATE

__all__ = ["KERNEL_LOCK", "answer_error", "in_thread", "refused"]

T = TypeVar("T")
KERNEL_LOCK = web.AppKey("kernel_lock", asyncio.Lock)


async def in_thread(fn: Callable[[], T]) -> T:
    """fn() in a worker thread. A thread cannot be cancelled: if we are
    (shutdown, a client gone), wait until it ends before letting the
    cancellation through, so the caller's lock stays held while its programs
    are attached and the next request cannot start a second collection."""
    work = asyncio.ensure_future(asyncio.to_thread(fn))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait({work})
        if not work.cancelled():
            work.exception()  # retrieved: nobody is left to answer
        raise


def refused(request: web.Request) -> web.Response | None:
    """A 503 when serve gave its capabilities up after attaching."""
    state = request.app.get(STATE)
    if state is not None and state.dropped_caps:
        return json_error(503, "serve dropped its capabilities after attaching (--drop-caps): "
                               "this would load new programs; restart without --drop-caps to use it")  # fmt: skip
    return None


def answer_error(e: RingscopeError) -> web.Response:
    """The JSON answer for an error of a kernel-work request."""
    if isinstance(e, BadInput):
        return json_error(400, str(e))
    if isinstance(e, NotSupported):
        return json_error(501, str(e))
    if isinstance(e, PermissionDenied):
        return json_error(403, str(e))
    return json_error(500, str(e))
