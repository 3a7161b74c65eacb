"""Events named by a probe spec (a tracepoint, a uprobe, a USDT probe) are
selected by that name, the JSON `type` they carry, and only them, over
NDJSON and WebSocket; /api/status and /metrics use the same names. Events
sharing one kernel type code are told apart."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from ringscope.filters import Filter
from ringscope.hub import Hub
from ringscope.server import ServerState
from ringscope.session import Session
from ringscope.sources.usdt import read_notes
from tests.conftest import need
from tests.server.conftest import Server, make_runner, ndjson

PY = Path("/usr/bin/python3")
FORK = "tracepoint:sched:sched_process_fork"
EXIT = "tracepoint:sched:sched_process_exit"
GETPPID = "uprobe:libc:getppid"
GETPID = "uprobe:libc:getpid"
GC_START = f"usdt:{PY}:python:gc__start"
GC_DONE = f"usdt:{PY}:python:gc__done"
EVENTS = [FORK, EXIT, GETPPID, GETPID, GC_START, GC_DONE]
# A child that, once released, forks (and reaps) one process, calls
# getppid() three times, getpid() twice and runs one collection.
CHILD = """
import gc, os, sys
gc.disable()
sys.stdin.read(1)
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
for _ in range(3):
    os.getppid()
for _ in range(2):
    os.getpid()
gc.collect(0)
"""


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    need(PY.exists() and any(n.name == "gc__start" for n in read_notes(PY.resolve())),
         "Debian's python3 with USDT probes (.note.stapsdt)")  # fmt: skip
    with Session(EVENTS, filter=Filter()) as session:
        state = ServerState(hub=Hub.for_session(session), session=session, keepalive=0.5)
        runner, url = await make_runner(state)
        async with aiohttp.ClientSession() as http:
            yield Server(url, state, http)
        await runner.cleanup()


async def read_until_end(resp: aiohttp.ClientResponse) -> list[dict[str, object]]:
    return ndjson(await asyncio.wait_for(resp.read(), 20))


async def test_each_spec_name_selects_exactly_its_events(server: Server) -> None:
    with subprocess.Popen([str(PY), "-c", CHILD], stdin=subprocess.PIPE) as child:
        assert child.stdin is not None
        q = f"/events.ndjson?pid={child.pid}&types="
        async with (
            server.http.get(server.url + q + FORK + "&limit=1") as fork,
            server.http.get(server.url + q + GETPPID + "&limit=3") as getppid,
            server.http.get(server.url + q + "python3:python:gc__start&limit=1") as bad,
            server.http.get(server.url + q + GC_START + "&limit=1") as gc_start,
            server.http.ws_connect(server.url + f"/ws?pid={child.pid}&types={EXIT}&limit=2") as ws,
        ):
            assert bad.status == 400 and (await bad.json())["param"] == "types"
            await ws.send_json({"subscribe": {"types": [GETPID], "pid": child.pid}})
            assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
            child.stdin.write(b"g")
            child.stdin.close()
            assert child.wait(10) == 0
            rows = {
                name: await read_until_end(r)
                for name, r in ((FORK, fork), (GETPPID, getppid), (GC_START, gc_start))
            }
            frames = [orjson.loads(m.data) async for m in ws]
    for name, got in rows.items():
        events = [r for r in got if r["type"] not in ("lost", "end")]
        assert events and {r["type"] for r in events} == {name}, (name, got)
        assert got[-1]["type"] == "end" and got[-1]["reason"] == "limit"
    assert [f["type"] for f in frames] == [GETPID, GETPID, "end"]


async def test_status_metrics_and_short_names_use_the_same_names(server: Server) -> None:
    status, doc = await server.get_json("/api/status")
    assert status == 200 and doc["events"] == EVENTS and set(doc["types"]) == set(EVENTS)
    # Nothing listens: the kernel's type mask is empty, every type "not collected".
    assert not any(t["collected"] for t in doc["types"].values())
    async with server.http.get(server.url + "/events.ndjson?types=sched:sched_process_exit&pid=1") as r:
        assert r.status == 200
        _, doc = await server.get_json("/api/status")
        (client,) = doc["clients"]
        assert client["filter"]["types"] == [EXIT]
        # Tracepoints share one kernel type code: asking for one collects both.
        assert doc["types"][EXIT]["collected"] and doc["types"][FORK]["collected"]
        assert not doc["types"][GETPPID]["collected"]
    status, doc = await server.get_json("/events.ndjson?types=tracepoint")
    assert status == 400 and "tracepoint" in doc["error"]
    async with server.http.get(server.url + "/metrics") as m:
        text = await m.text()
    for name in EVENTS:
        assert f'ringscope_events_produced_total{{type="{name}"}}' in text
    # The kernel counts drops per code: the shared codes carry their family's name.
    assert 'ringscope_kernel_drops_total{type="tracepoint"}' in text
