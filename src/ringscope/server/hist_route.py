"""GET /api/hist?event=E[&by=F][&latency=1][&pid=P][&duration=S]: an
in-kernel histogram collected for `duration` seconds.

The collection attaches its own BPF programs and blocks, so it runs in a
worker thread, one at a time: a dashboard that clicks twice must not
double the kernel work."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ..errors import BadInput, NotSupported, RingscopeError
from ..filters import parse_pid
from ..numbers import parse_float
from ..sources.hist import collect
from .params import single_valued

__all__ = ["HIST_LOCK", "api_hist", "collect_query"]

HIST_LOCK = web.AppKey("hist_lock", asyncio.Lock)
_QUERY = frozenset({"event", "by", "latency", "pid", "duration"})


def collect_query(query: Mapping[str, str]) -> dict[str, Any]:
    """Validate the query parameters (BadInput, i.e. a 400, for unknown or
    bad ones) and run collect(). Blocking, like collect()."""
    unknown = sorted(set(query) - _QUERY)
    if unknown:
        raise BadInput(f"unknown parameter {unknown[0]!r} (allowed: {', '.join(sorted(_QUERY))})")
    event = query.get("event", "").strip()
    if not event:
        raise BadInput("missing parameter 'event' (e.g. event=runqlat or event=uretprobe:libc:malloc)")
    latency = query.get("latency", "0").lower()
    if latency not in ("0", "1", "true", "false"):
        raise BadInput(f"bad latency {latency!r}: use 1 or 0")
    duration = parse_float(query.get("duration", "1"), "duration")
    # In range and alive: the kernel side keeps a u32, so 2**32 + 1 would trace pid 1.
    pid = parse_pid(query["pid"]) if "pid" in query else None
    return collect(
        event, by=query.get("by") or None, latency=latency in ("1", "true"), pid=pid, duration=duration
    )


async def _collect(query: Mapping[str, str]) -> dict[str, Any]:
    """collect_query() in a worker thread. A thread cannot be cancelled:
    if we are (shutdown, a client gone), wait until it ends before letting
    the cancellation through, so the lock stays held while its programs are
    attached and the next request cannot start a second collection."""
    work = asyncio.ensure_future(asyncio.to_thread(collect_query, query))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait({work})
        if not work.cancelled():
            work.exception()  # retrieved: nobody is left to answer
        raise


async def api_hist(request: web.Request) -> web.Response:
    async with request.app[HIST_LOCK]:
        try:
            single_valued(request.query)
            doc = await _collect(request.query)
        except BadInput as e:
            return web.json_response({"error": str(e)}, status=400)
        except NotSupported as e:
            return web.json_response({"error": str(e)}, status=501)
        except RingscopeError as e:
            return web.json_response({"error": str(e)}, status=500)
    return web.json_response(doc)
