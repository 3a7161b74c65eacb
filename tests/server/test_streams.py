"""Each protocol delivers the events the test triggers that match the
client's filter, and only those; limit ends a stream; SSE resumes."""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

import aiohttp
import orjson

from ringscope.hub import REASONS
from tests.server.conftest import Server, ndjson, touch_paths

ME = os.getpid()


async def read_ndjson_until(
    resp: aiohttp.ClientResponse, want: set[str], timeout: float = 5
) -> list[dict[str, Any]]:
    """Read events until every path in `want` has been seen."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    async with asyncio.timeout(timeout):
        async for line in resp.content:
            row = orjson.loads(line)
            rows.append(row)
            seen.add(row.get("path", ""))
            if want <= seen:
                return rows
    raise AssertionError(f"stream ended early: {rows}")


async def read_sse(resp: aiohttp.ClientResponse, n: int, timeout: float = 5) -> list[dict[str, str]]:
    """Parse up to n SSE messages (comments and retry lines skipped)."""
    msgs: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    async with asyncio.timeout(timeout):
        async for raw in resp.content:
            line = raw.decode().rstrip("\n")
            if not line:
                if "data" in cur:
                    msgs.append(cur)
                    if len(msgs) == n:
                        break
                cur = {}
            elif not line.startswith(":"):
                k, _, v = line.partition(": ")
                cur[k] = v
    return msgs


async def test_ndjson_gets_matching_events_only(server: Server) -> None:
    async with server.http.get(server.url + f"/events.ndjson?types=open&pid={ME}") as r:
        assert r.status == 200 and r.headers["Content-Type"] == "application/x-ndjson"
        paths = touch_paths(5)
        rows = await read_ndjson_until(r, set(paths))
    assert all(row["type"] == "open" and row["pid"] == ME for row in rows)
    mine = [row for row in rows if row["path"] in paths]
    assert [row["path"] for row in mine] == paths
    assert all(row["ret"] == -2 for row in mine)  # ENOENT
    seqs = [row["seq"] for row in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


async def test_limit_ends_the_stream(server: Server) -> None:
    async with server.http.get(server.url + f"/events.ndjson?types=open&pid={ME}&limit=3") as r:
        touch_paths(6)
        body = await asyncio.wait_for(r.read(), 5)
    rows = ndjson(body)
    assert [row["type"] for row in rows] == ["open"] * 3 + ["end"]
    assert rows[-1]["reason"] == "limit"


async def test_sse_ids_types_and_filter(server: Server) -> None:
    async with server.http.get(server.url + f"/events?types=open&pid={ME}&limit=4") as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        paths = touch_paths(4)
        msgs = await read_sse(r, 5)
    events, end = msgs[:4], msgs[4]
    for m, path in zip(events, paths, strict=True):
        row = orjson.loads(m["data"])
        assert m["event"] == "open" and int(m["id"]) == row["seq"]
        assert row["pid"] == ME and row["path"] == path
    assert end["event"] == "end" and orjson.loads(end["data"])["reason"] == "limit"


async def test_sse_last_event_id_resumes_without_duplicates(server: Server) -> None:
    async with server.http.get(server.url + f"/events?types=open&pid={ME}&limit=3") as r:
        paths = touch_paths(6)
        first = (await read_sse(r, 3))[:3]
    last = first[-1]["id"]
    headers = {"Last-Event-ID": last}
    async with server.http.get(server.url + f"/events?types=open&pid={ME}&limit=3", headers=headers) as r:
        second = (await read_sse(r, 3))[:3]
    got = [orjson.loads(m["data"])["path"] for m in first + second]
    assert got == paths
    ids = [int(m["id"]) for m in first + second]
    assert ids == sorted(set(ids))


async def test_sse_batch_frames_are_arrays(server: Server) -> None:
    async with server.http.get(server.url + f"/events?types=open&pid={ME}&limit=4&batch=4") as r:
        paths = touch_paths(4)
        msgs = await read_sse(r, 2)
    got: list[dict[str, Any]] = []
    for m in msgs:
        if m["event"] == "batch":
            got += orjson.loads(m["data"])
    assert [g["path"] for g in got] == paths


async def test_sse_keepalive_comments(server: Server) -> None:
    async with server.http.get(server.url + "/events?types=open&pid=1") as r:
        async with asyncio.timeout(3):
            async for line in r.content:
                if line.startswith(b": keepalive"):
                    break


async def test_websocket_frames_and_subscription_change(server: Server) -> None:
    async with server.http.ws_connect(server.url + "/ws?types=exec") as ws:
        child = subprocess.run(["/bin/true"], check=True)
        del child
        exec_row = None
        async with asyncio.timeout(5):
            while exec_row is None:
                row = orjson.loads((await ws.receive()).data)
                if row["type"] == "exec" and row["filename"] == "/bin/true":
                    exec_row = row
        await ws.send_str(orjson.dumps({"subscribe": {"types": ["open"], "pid": ME}}).decode())
        async with asyncio.timeout(5):
            while True:
                row = orjson.loads((await ws.receive()).data)
                if row["type"] == "subscribed":
                    assert row["filter"]["types"] == ["open"] and row["filter"]["pid"] == ME
                    break
        paths = touch_paths(3)
        rows = []
        async with asyncio.timeout(5):
            while {r.get("path") for r in rows} < set(paths):
                rows.append(orjson.loads((await ws.receive()).data))
        assert all(r["type"] == "open" and r["pid"] == ME for r in rows)
        await ws.send_str('{"subscribe": {"pid": "nope"}}')
        async with asyncio.timeout(5):
            while True:
                row = orjson.loads((await ws.receive()).data)
                if row["type"] == "error":
                    assert row["param"] == "pid"
                    break


async def test_websocket_batch_and_limit(server: Server) -> None:
    async with server.http.ws_connect(server.url + f"/ws?types=open&pid={ME}&batch=2&limit=4") as ws:
        paths = touch_paths(4)
        frames = []
        async with asyncio.timeout(5):
            async for msg in ws:
                frames.append(orjson.loads(msg.data))
        assert ws.close_code == 1000
    rows = [r for f in frames if isinstance(f, list) for r in f]
    assert [r["path"] for r in rows] == paths
    assert frames[-1]["type"] == "end" and frames[-1]["reason"] == "limit"


async def test_websocket_cross_origin_refused(server: Server) -> None:
    try:
        async with server.http.ws_connect(server.url + "/ws", headers={"Origin": "http://evil.example"}):
            raise AssertionError("cross-origin upgrade accepted")
    except aiohttp.WSServerHandshakeError as e:
        assert e.status == 403
    host = server.url.removeprefix("http://")
    async with server.http.ws_connect(
        server.url + "/ws?types=open&pid=1", headers={"Origin": f"http://{host}"}
    ):
        pass


async def test_hundred_concurrent_clients(server: Server) -> None:
    async def one(i: int, ready: asyncio.Event, started: list[int], path_box: list[str]) -> int:
        kind = ("events.ndjson", "events")[i % 2]
        async with server.http.get(server.url + f"/{kind}?types=open&pid={ME}") as r:
            started.append(i)
            if len(started) == 100:
                ready.set()
            await ready.wait()
            async with asyncio.timeout(10):
                async for line in r.content:
                    if path_box and path_box[0].encode() in line:
                        return i
        return -1

    ready = asyncio.Event()
    started: list[int] = []
    box: list[str] = []
    tasks = [asyncio.create_task(one(i, ready, started, box)) for i in range(100)]
    await asyncio.wait_for(ready.wait(), 10)
    box.append(touch_paths(1)[0])
    # The path was opened before the readers looked, so one open can be missed
    # by nobody: each queue got it the moment the hub read it.
    got = await asyncio.gather(*tasks)
    assert sorted(got) == list(range(100))
    status, _doc = await server.get_json("/api/status")
    assert status == 200


async def test_bad_parameters_get_400_naming_them(server: Server) -> None:
    for path, param in [
        ("/events.ndjson?types=nope", "types"),
        ("/events?pid=x", "pid"),
        ("/ws?policy=sometimes", "policy"),
        ("/events.ndjson?limit=-1", "limit"),
        ("/events?batch=0", "batch"),
        ("/events.ndjson?comm=" + "c" * 20, "comm"),
        ("/events.ndjson?color=red", "color"),
        ("/events.ndjson?types=open&types=exec", "types"),
        ("/ws?pid=1&limit=2&pid=2", "pid"),
    ]:
        status, doc = await asyncio.wait_for(server.get_json(path), 5)  # a stream that started never ends
        assert status == 400, path
        assert doc["param"] == param and param in doc["error"]
    status, doc = await server.get_json("/events", headers={"Last-Event-ID": "abc"})
    assert (status, doc["param"]) == (400, "Last-Event-ID")


async def test_status_healthz_and_metrics(server: Server) -> None:
    assert await server.get_json("/healthz") == (200, {"ok": True})
    async with server.http.get(server.url + f"/events.ndjson?types=open&pid={ME}") as r:
        paths = touch_paths(2)
        await read_ndjson_until(r, set(paths))
        status, doc = await server.get_json("/api/status")
        assert status == 200
        assert doc["ring_size"] == server.state.session.ring_size  # type: ignore[union-attr]
        assert "file:handle_openat_enter" in doc["programs"]
        assert doc["features"]["ringbuf"]["available"] is True
        (client,) = doc["clients"]
        assert client["kind"] == "ndjson" and client["filter"]["pid"] == ME and client["delivered"] >= 2
        assert doc["kernel_filter"]["types"] == ["open"] and doc["kernel_filter"]["pid"] == ME
        # The command line's filter, not what the clients asked the kernel for.
        assert doc["base_filter"]["pid"] is None and doc["types"]["open"]["collected"]
        assert doc["types"]["exec"] == {"collected": False, "produced": 0, "delivered": 0, "client_lost": 0,
                                        "kernel_drops": 0}  # fmt: skip
        assert doc["lost"]["client"] == dict.fromkeys(REASONS, 0)
        async with server.http.get(server.url + "/metrics") as m:
            text = await m.text()
    assert 'ringscope_events_produced_total{type="open"}' in text
    assert 'ringscope_client_queue_depth_events{kind="ndjson"}' in text
    assert "ringscope_ring_fill_ratio" in text
    assert "ringscope_reader_batch_events_bucket" in text
    assert "ringscope_kernel_drops" in text and "ringscope_daemon_drops_total" in text


async def test_ndjson_batch_sets_events_per_chunk(server: Server) -> None:
    async with server.http.get(server.url + f"/events.ndjson?types=open&pid={ME}&limit=4&batch=2") as r:
        paths = touch_paths(4)
        body = await asyncio.wait_for(r.read(), 5)
    rows = ndjson(body)
    assert [row.get("path") for row in rows[:4]] == paths and rows[4]["type"] == "end"


async def test_client_limit_gets_503(server: Server) -> None:
    server.state.max_clients = 1
    async with server.http.get(server.url + "/events.ndjson?types=open&pid=1"):
        status, doc = await server.get_json("/events?types=open")
        assert status == 503 and doc["param"] == "clients"
