"""GET /api/hist: an in-kernel histogram collected for `duration` seconds.

The collection attaches its own BPF programs and blocks, so it runs in a
worker thread, one at a time: a dashboard that clicks twice must not
double the kernel work."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..errors import BadInput, NotSupported, RingscopeError
from ..hist import collect_query
from .params import single_valued

__all__ = ["HIST_LOCK", "api_hist"]

HIST_LOCK = web.AppKey("hist_lock", asyncio.Lock)


async def api_hist(request: web.Request) -> web.Response:
    async with request.app[HIST_LOCK]:
        try:
            single_valued(request.query)
            doc = await asyncio.to_thread(collect_query, request.query)
        except BadInput as e:
            return web.json_response({"error": str(e)}, status=400)
        except NotSupported as e:
            return web.json_response({"error": str(e)}, status=501)
        except RingscopeError as e:
            return web.json_response({"error": str(e)}, status=500)
    return web.json_response(doc)
