"""GET /api/hist?event=E[&by=F][&latency=1][&value=V][&pid=P][&duration=S]:
an in-kernel histogram collected for `duration` seconds.

The collection attaches its own BPF programs and blocks: kernel_work.py
runs it in a worker thread, one at a time (a dashboard that clicks twice
must not double the kernel work)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ..errors import RingscopeError
from ..numbers import parse_float
from ..sources.hist import collect
from ..sources.hist_query import parse_query
from .kernel_work import KERNEL_LOCK, answer_error, in_thread, refused
from .params import single_valued

__all__ = ["api_hist", "collect_query"]

_OWN = frozenset({"duration"})


def collect_query(query: Mapping[str, str]) -> dict[str, Any]:
    """Validate the query parameters (BadInput, i.e. a 400, for unknown or
    bad ones: the aggregate parameters of hist_query.py, and `duration`) and
    run collect(). Blocking, like collect()."""
    q = parse_query(query, extra=_OWN)
    return collect(q, parse_float(query.get("duration", "1"), "duration"))


async def api_hist(request: web.Request) -> web.Response:
    no = refused(request)
    if no is not None:
        return no
    async with request.app[KERNEL_LOCK]:
        try:
            single_valued(request.query)
            query = dict(request.query)
            doc = await in_thread(lambda: collect_query(query))
        except RingscopeError as e:
            return answer_error(e)
    return web.json_response(doc)
