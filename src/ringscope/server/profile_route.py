"""GET /api/profile?duration=S[&pid=P][&call_graph=fp|dwarf][&format=F][&freq=HZ]:
the whole system or one process sampled for S seconds by the same profiler
as `ringscope record`, as speedscope JSON (the dashboard's flame graph),
folded stacks or gzipped pprof. Bad input is a JSON 400, as for /api/hist."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from ..errors import BadInput, RingscopeError
from ..filters import parse_pid
from ..numbers import parse_int, parse_seconds
from .kernel_work import KERNEL_LOCK, answer_error, in_thread, refused
from .params import single_valued

__all__ = ["FORMATS", "ProfileQuery", "api_profile", "parse_profile_query"]

FORMATS = {
    "speedscope": "application/json",
    "folded": "text/plain; charset=utf-8",
    "pprof": "application/octet-stream",
}
CALL_GRAPHS = ("fp", "dwarf")
MAX_SECONDS = 60.0
_PARAMS = frozenset({"duration", "pid", "call_graph", "format", "freq"})


@dataclass(frozen=True)
class ProfileQuery:
    seconds: float = 5.0
    pid: int | None = None
    call_graph: str = "fp"
    format: str = "speedscope"
    freq: int = 99


def parse_profile_query(q: Mapping[str, str]) -> ProfileQuery:
    """The query, checked (BadInput names the parameter)."""
    unknown = sorted(set(q) - _PARAMS)
    if unknown:
        raise BadInput(f"unknown parameter {unknown[0]!r} (allowed: {', '.join(sorted(_PARAMS))})")
    call_graph = q.get("call_graph", "fp")
    if call_graph not in CALL_GRAPHS:
        raise BadInput(f"bad call_graph {call_graph!r}: use {' or '.join(CALL_GRAPHS)}")
    fmt = q.get("format", "speedscope")
    if fmt not in FORMATS:
        raise BadInput(f"bad format {fmt!r}: use one of {', '.join(FORMATS)}")
    return ProfileQuery(
        seconds=parse_seconds(q["duration"], "duration", MAX_SECONDS) if "duration" in q else 5.0,
        # In range and alive, as everywhere a pid is taken.
        pid=parse_pid(q["pid"]) if "pid" in q else None,
        call_graph=call_graph,
        format=fmt,
        freq=parse_int(q["freq"], "freq", 1, 9999) if "freq" in q else 99,
    )


def _profile(pq: ProfileQuery) -> bytes:
    """Record and render (blocking: a worker thread runs it)."""
    from ..perf import report  # imported on first use: the profiler is not needed to serve events
    from ..perf.pprof import pprof
    from ..perf.record import profile_for

    prof = profile_for(pq.seconds, pid=pq.pid, callgraph=pq.call_graph, freq=pq.freq)
    if pq.format == "pprof":
        return pprof(prof)
    if pq.format == "folded":
        return report.folded(prof).encode()
    target = f"pid {pq.pid}" if pq.pid is not None else "system"
    return report.speedscope(prof, name=f"ringscope: {target}, {pq.seconds:g} s, {pq.call_graph}").encode()


async def api_profile(request: web.Request) -> web.Response:
    no = refused(request)
    if no is not None:
        return no
    try:
        single_valued(request.query)
        pq = parse_profile_query(request.query)
    except RingscopeError as e:
        return answer_error(e)
    async with request.app[KERNEL_LOCK]:
        try:
            body = await in_thread(lambda: _profile(pq))
        except RingscopeError as e:
            return answer_error(e)
    return web.Response(body=body, headers={"Content-Type": FORMATS[pq.format], "Cache-Control": "no-store"})
