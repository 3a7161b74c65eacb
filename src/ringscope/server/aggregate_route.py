"""/api/aggregates: the aggregates `serve` keeps, as JSON for the dashboard's
heatmaps, and changed at run time.

    GET    /api/aggregates               every aggregate: totals, log2 slots, top label sets
    POST   /api/aggregates               {"spec": "EVENT?by=..&latency=1"} or {"event": ..., "by": ...}
    DELETE /api/aggregates?id=SPEC       detach one

A bad spec is a 400 naming the problem, a feature this kernel lacks a 501;
nothing is loaded for either. Opening (load + verify + attach) runs in a
worker thread under the set's lock, which scrapes also hold."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from aiohttp import web

from ..errors import BadInput, NotSupported, RingscopeError
from ..sources.hist_query import parse_spec, parse_table
from ..sources.hist_snapshot import OTHER
from .aggregates import Aggregate, AggregateSet
from .kernel_work import in_thread, refused
from .params import single_valued

__all__ = ["AGGREGATES", "add_aggregate_routes", "aggregate_doc"]

AGGREGATES = web.AppKey("aggregates", AggregateSet)
TOP = 12  # label sets per aggregate in the JSON, by count


def _error(e: RingscopeError) -> web.Response:
    status = 400 if isinstance(e, BadInput) else 501 if isinstance(e, NotSupported) else 500
    return web.json_response({"error": str(e)}, status=status)


def aggregate_doc(agg: Aggregate) -> dict[str, Any]:
    """One aggregate now: its identity, totals, the log2 slots summed over
    its label sets, and the TOP label sets by count (cumulative values:
    the dashboard draws differences between polls). Blocking (reads maps)."""
    h, d = agg.hist, agg.hist.read()
    labels = h.labels(d.keys)
    order = np.argsort(d.count)[::-1][:TOP].tolist()
    top = [{"label": labels[i], "count": int(d.count[i]), "sum": int(d.sum[i])} for i in order]
    if int(d.other["count"]):
        top.append({"label": OTHER, "count": int(d.other["count"]), "sum": int(d.other["sum"])})
    slots = d.slots.sum(axis=0, dtype=np.uint64) + d.other["slots"]
    return {
        "id": agg.id, "event": h.event, "metric": agg.metric.family, "type": agg.metric.type,
        "kind": h.plan.kind, "unit": h.plan.unit, "label": agg.metric.label, "max_labels": h.max_labels,
        "label_sets": len(d.keys), "overflow": d.overflow, "missed": d.missed, "ts_ns": d.ts_ns,
        "count": int(d.count.sum(dtype=np.uint64)) + int(d.other["count"]),
        "sum": int(d.sum.sum(dtype=np.uint64)) + int(d.other["sum"]),
        "slots": [int(x) for x in slots] if h.plan.kind == "log2" else [], "top": top,
    }  # fmt: skip


def _docs(aggregates: AggregateSet) -> list[dict[str, Any]]:
    return [aggregate_doc(a) for a in aggregates]


async def list_aggregates(request: web.Request) -> web.Response:
    aggregates = request.app[AGGREGATES]
    async with aggregates.lock:
        docs = await asyncio.to_thread(_docs, aggregates)
    return web.json_response({"aggregates": docs})


async def _query_from_body(request: web.Request) -> Any:
    try:
        body = await request.json()
    except ValueError:
        raise BadInput(
            'expected a JSON body: {"spec": "EVENT?by=comm"} or {"event": ..., "by": ...}'
        ) from None
    if not isinstance(body, dict):
        raise BadInput('expected a JSON object: {"spec": "EVENT?by=comm"}')
    return parse_table(body)


async def add_aggregate(request: web.Request) -> web.Response:
    no = refused(request)
    if no is not None:
        return no
    aggregates = request.app[AGGREGATES]
    try:
        query = await _query_from_body(request)
        async with aggregates.lock:
            agg = aggregates.prepare(query)
            await in_thread(lambda: aggregates.add(agg))
            doc = await asyncio.to_thread(aggregate_doc, agg)
    except RingscopeError as e:
        return _error(e)
    return web.json_response(doc, status=201)


async def delete_aggregate(request: web.Request) -> web.Response:
    aggregates = request.app[AGGREGATES]
    try:
        single_valued(request.query)
        agg_id = request.query.get("id") or ""
        if not agg_id:
            raise BadInput("missing parameter 'id' (an aggregate's spec, as GET /api/aggregates lists it)")
        # The id as written or in its canonical form (`runqlat?by=comm`).
        key = agg_id if aggregates.get(agg_id) else parse_spec(agg_id).spec
    except RingscopeError as e:
        return _error(e)
    async with aggregates.lock:
        removed = await asyncio.to_thread(aggregates.remove, key)
    if not removed:
        return web.json_response({"error": f"no aggregate {agg_id!r}"}, status=404)
    return web.Response(status=204)


async def _close(app: web.Application) -> None:
    app[AGGREGATES].close()


def add_aggregate_routes(app: web.Application, aggregates: AggregateSet) -> None:
    """The routes, over `aggregates`. Aggregates still open when the app is
    cleaned up are closed then (the API may have added some)."""
    app[AGGREGATES] = aggregates
    app.router.add_get("/api/aggregates", list_aggregates)
    app.router.add_post("/api/aggregates", add_aggregate)
    app.router.add_delete("/api/aggregates", delete_aggregate)
    app.on_cleanup.append(_close)
