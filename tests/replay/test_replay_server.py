"""`serve -i`: a capture served over real HTTP on 127.0.0.1 to NDJSON and
SSE clients, with the accounting a live server keeps, and no privilege."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from ringscope.hub import Hub
from ringscope.server import ServerState, make_app
from ringscope.session import Session
from tests.replay.conftest import RINGSCOPE, capture, live_ndjson, rows


@asynccontextmanager
async def _serve(name: str, speed: float = 0.0) -> AsyncIterator[str]:
    """A server over the replayed capture on an ephemeral port; its base URL."""
    with Session.replay(capture(name), speed=speed) as session:
        state = ServerState(hub=Hub.for_session(session), session=session, keepalive=0.5)
        runner = web.AppRunner(make_app(state), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}"
        finally:
            await runner.cleanup()


async def _stream(url: str, path: str, until: int) -> bytes:
    """Read a stream until it holds `until` events (a replay never ends a stream by itself here)."""
    body = b""
    async with aiohttp.ClientSession() as http, http.get(url + path) as r:
        assert r.status == 200
        async for data in r.content.iter_any():
            body += data
            if body.count(b'"seq":') - body.count(b'"type":"lost"') >= until:
                break
    return body


def _events(live: list[dict[str, Any]]) -> int:
    return sum(r["type"] != "lost" for r in live)


@pytest.mark.parametrize("name", ["static", "lost"])
async def test_ndjson_client_gets_the_live_stream_and_the_same_accounting(name: str) -> None:
    live = rows(live_ndjson(name))
    async with _serve(name) as url:
        body = await _stream(url, f"/events.ndjson?limit={_events(live)}", _events(live))
        got = [r for r in rows(body) if r["type"] != "end"]
        assert got == live
        async with aiohttp.ClientSession() as http, http.get(url + "/api/status") as r:
            status = await r.json()
        produced = Counter(r["type"] for r in live if r["type"] != "lost")
        assert status["produced"] == dict(produced)
        assert status["lost"]["kernel"] == sum(r["count"] for r in live if r["type"] == "lost")
        assert (
            sum(status["lost"]["client"].values()) == 0 and status["programs"] == [] and status["links"] == 0
        )
        async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as r:
            metrics = await r.text()
        assert re.search(
            r"ringscope_kernel_drops_total\{[^}]*\} " + str(status["lost"]["kernel"]), metrics
        ) or (status["lost"]["kernel"] == 0)


async def test_sse_client_gets_every_event_with_its_seq_as_id() -> None:
    live = rows(live_ndjson("dynamic"))
    async with _serve("dynamic") as url:
        body = await _stream(url, "/events", _events(live))
    messages = [m for m in body.decode().split("\n\n") if m.startswith("id: ")]
    got = []
    for m in messages:
        fields = dict(line.split(": ", 1) for line in m.splitlines())
        row = orjson.loads(fields["data"])
        assert int(fields["id"]) == row["seq"]
        got.append(row)
    assert [r for r in got if r["type"] != "lost"] == [r for r in live if r["type"] != "lost"]


def _end(row: dict[str, object]) -> dict[str, object]:
    """An end frame without its per-reason loss map, which must be all zeros."""
    lost = row.pop("lost", {})
    assert isinstance(lost, dict) and not any(lost.values()), lost
    return row


async def test_serve_i_from_the_command_line_ends_streams_at_the_end_of_the_capture() -> None:
    live = rows(live_ndjson("static"))
    proc = await asyncio.create_subprocess_exec(*RINGSCOPE, "serve", "-i", str(capture("static")), "--port", "0",
                                                "--speed", "0", stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert proc.stderr is not None
        line = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
        m = re.search(r"serving on (http://127\.0\.0\.1:\d+)/", line)
        assert m, line
        async with aiohttp.ClientSession() as http:
            async with http.get(m[1] + "/events.ndjson") as r:
                got = rows(await r.read())
            assert got[:-1] == live
            assert _end(got[-1]) == {
                "type": "end",
                "reason": "end of capture",
                "delivered": _events(live),
                "dropped": 0,
            }
            async with http.get(m[1] + "/events.ndjson") as r:  # after the end: ended at once
                after = rows(await r.read())
                assert [_end(e) for e in after] == [
                    {"type": "end", "reason": "end of capture", "delivered": 0, "dropped": 0}
                ]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert proc.stderr is not None
        await proc.stderr.read()


def test_serve_i_refuses_what_it_cannot_honour() -> None:
    for args, message in ((["--speed", "-1"], "bad --speed"), (["--capture", "x.rscap"], "go apart"),
                          (["-e", "open"], "does not apply to -i")):  # fmt: skip
        p = subprocess.run([*RINGSCOPE, "serve", "-i", str(capture("static")), *args], capture_output=True,
                           text=True, timeout=60, check=False)  # fmt: skip
        assert p.returncode == 2 and message in p.stderr and p.stderr.count("\n") == 1, p.stderr
    p = subprocess.run(
        [*RINGSCOPE, "serve", "--speed", "2"], capture_output=True, text=True, timeout=60, check=False
    )
    assert p.returncode == 2 and "--speed goes with -i" in p.stderr
