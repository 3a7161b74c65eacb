"""GET /api/hist: an in-kernel histogram over HTTP, exact counts, 4xx/501."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from ringscope.server import hist_route, kernel_work
from tests.server.conftest import Server

ME = os.getpid()
CALLS = 777


async def test_hist_counts_our_calls_exactly(server: Server) -> None:
    query = f"/api/hist?event=syscalls:sys_enter_getppid&by=pid&pid={ME}&duration=2"
    pending = asyncio.create_task(server.get_json(query))
    await asyncio.sleep(1.0)  # attached well before the window closes
    await asyncio.to_thread(lambda: [os.getppid() for _ in range(CALLS)])
    status, doc = await pending
    assert status == 200, doc
    assert doc["kind"] == "count" and doc["event"] == "syscalls:sys_enter_getppid"
    assert {r["key"]: r["count"] for r in doc["rows"]} == {ME: CALLS}


async def test_hist_bad_parameters_are_400(server: Server) -> None:
    for query, word in (
        ("/api/hist", "event"),
        ("/api/hist?event=runqlat&duration=abc", "bad duration"),
        ("/api/hist?event=runqlat&colour=red", "unknown parameter"),
        ("/api/hist?event=nosuch:thing", "unknown"),
        ("/api/hist?event=runqlat&pid=4294967297", "bad pid"),
        ("/api/hist?event=runqlat&pid=0", "bad pid"),
        ("/api/hist?event=runqlat&pid=x", "bad pid"),
        (f"/api/hist?event=runqlat&pid={0x3FFFFFFF}", "no such process"),
        ("/api/hist?event=runqlat&event=nosuch:thing", "'event': given more than once"),
    ):
        status, doc = await server.get_json(query)
        assert status == 400, (query, doc)
        assert word in doc["error"]


async def test_hist_missing_kernel_feature_is_501(server: Server) -> None:
    from ringscope import features

    if features.probe().kprobes.available:
        return
    status, doc = await server.get_json("/api/hist?event=kprobe:vfs_read&duration=0.1")
    assert status == 501
    assert "CONFIG_KPROBES is off" in doc["error"]


async def test_a_cancelled_request_holds_the_lock_until_its_collection_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(query: Any) -> dict[str, Any]:
        started.set()
        release.wait(10)
        return {}

    monkeypatch.setattr(hist_route, "collect_query", slow)
    app = web.Application()
    lock = app[kernel_work.KERNEL_LOCK] = asyncio.Lock()
    task = asyncio.create_task(hist_route.api_hist(make_mocked_request("GET", "/api/hist?event=x", app=app)))
    assert await asyncio.to_thread(started.wait, 5)
    task.cancel()
    await asyncio.sleep(0.2)
    assert lock.locked() and not task.done()  # the thread still runs: so does the lock
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert not lock.locked()
