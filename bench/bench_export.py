"""Export to NATS JetStream (a local `nats-server -js`, loopback).

1. Acknowledged publishing: the same hub blocks (2,048 `open` events of
   NDJSON each, made by the one encoder) published by the Exporter (its
   thread, outbox and window of acks) against bare nats-py publish_async
   of the same bytes and headers with its own window, in the same run.
2. Producer overhead: a getppid flood (C, one CPU) traced by `serve` with
   one NDJSON client, without and with `--export`: the flood's own rate.
3. End to end: a paced flood traced by `serve --export`, read through
   `serve --from` by an NDJSON client; latency from the event's ts_ns
   (CLOCK_MONOTONIC in the kernel) to its arrival, p50 and p99.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

from bench.bench_http import PRODUCER_CPU, Producer, Tally, count_ndjson, paced, percentile
from bench.bench_reader import build
from bench.report import Figure, Report

SECTION = "export"
BLOCKS = int(os.environ.get("RINGSCOPE_BENCH_EXPORT_BLOCKS", 600))  # x 2,048 events
FLOOD_N = 1_000_000
SERVE_CPU = 1


class NatsServer:
    def __init__(self, store: str) -> None:
        from tests.fleet.conftest import Nats

        self.nats = Nats(Path(store))
        self.nats.start()
        self.url = self.nats.url

    def close(self) -> None:
        self.nats.kill(signal.SIGTERM)


def _blocks() -> list[object]:
    from tests.unit.test_export_spool import chunk_block

    proto = chunk_block(0, 2048)
    proto.ndjson()
    out = []
    for i in range(BLOCKS):
        b = chunk_block(i * 2048, 2048)
        b.cache["ndjson"] = proto.ndjson()  # the bytes are the encoder's; only the seq differs
        out.append(b)
    return out


async def _bare(url: str, blocks: list[object]) -> float:
    """Seconds for bare nats-py to publish the same messages with acks."""
    import nats

    from ringscope.export.message import block_messages

    msgs = [m for b in blocks for m in block_messages(b, "bare", "run")]  # type: ignore[arg-type]
    nc = await nats.connect(url, pending_size=64 << 20)
    js = nc.jetstream(publish_async_max_pending=256)
    t0 = time.monotonic()
    futs = [await js.publish_async(m.subject, m.payload, headers=m.headers()) for m in msgs]
    await asyncio.gather(*futs)
    wall = time.monotonic() - t0
    await nc.close()
    return wall


def _exporter(url: str, blocks: list[object]) -> float:
    from ringscope.export import Exporter
    from ringscope.jetstream import StreamSpec, parse_url

    # Memory for the whole run (as bare nats-py holds it): the figure is the
    # publishing rate, not the outbox's bound (past which it drops, counted).
    ex = Exporter(parse_url(url), "exporter", StreamSpec(), memory=1 << 31)
    ex.start(wait=True)
    t0 = time.monotonic()
    for b in blocks:
        ex(b)  # type: ignore[arg-type]
    want = len(blocks) * 2048
    while ex.outbox.delivered + ex.outbox.lost < want:
        time.sleep(0.0005)
    assert ex.outbox.lost == 0
    wall = time.monotonic() - t0
    ex.close()
    return wall


def publishing(report: Report, url: str) -> None:
    blocks = _blocks()
    events = len(blocks) * 2048
    _exporter(url, blocks[:20])  # warm up the stream and the connection
    bare = [asyncio.run(_bare(url, blocks)) for _ in range(3)]
    ours = [_exporter(url, blocks) for _ in range(3)]
    b, o = events / min(bare), events / min(ours)
    report.add(Figure(SECTION, "export with acks, 2,048-event blocks", o, "events/s", "bare nats-py publish_async",
                      b, target=">= 500,000 events/s", notes=f"best of 3, {events:,} events"))  # fmt: skip


def _serve(args: list[str]) -> tuple[subprocess.Popen[str], str]:
    p = subprocess.Popen([sys.executable, "-m", "ringscope", "serve", "--port", "0", *args],
                         stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert p.stderr is not None
    os.sched_setaffinity(p.pid, {SERVE_CPU})
    for _ in range(5):
        m = re.search(r" on (http://\S+?)/ ", p.stderr.readline())
        if m:
            return p, m[1]
    raise RuntimeError("serve did not start")


def _stop(p: subprocess.Popen[str]) -> None:
    p.send_signal(signal.SIGTERM)
    assert p.stderr is not None
    p.stderr.read()
    p.stderr.close()
    p.wait(60)


async def _flood_through(url: str | None, flood_exe: Path) -> tuple[float, Tally, dict[str, object]]:
    flood = Producer([str(flood_exe), str(FLOOD_N), str(PRODUCER_CPU), "--hold"])
    extra = ["--export", url, "--host-name", "bench"] if url else []
    serve, base = _serve(["-e", "syscalls:sys_enter_getppid", "-p", str(flood.pid), *extra])
    t = Tally()
    try:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=30)
        async with aiohttp.ClientSession(timeout=timeout) as http, http.get(base + "/events.ndjson") as r:
            flood.release()
            counting = asyncio.create_task(count_ndjson(r, None, t))  # reads while the flood runs
            fr = json.loads(await asyncio.to_thread(flood.finish))
            deadline = time.monotonic() + 60
            while t.accounted < fr["calls"] and not counting.done() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            counting.cancel()
        with urllib.request.urlopen(base + "/api/status", timeout=10) as s:
            status = json.loads(s.read())
        if url:
            deadline = time.monotonic() + 60
            while status["export"]["delivered"] + status["export"]["lost"] < status["export"]["produced"]:
                assert time.monotonic() < deadline, "export did not settle"
                time.sleep(0.1)
                with urllib.request.urlopen(base + "/api/status", timeout=10) as s:
                    status = json.loads(s.read())
    finally:
        _stop(serve)
    return fr["calls"] / (fr["ns"] / 1e9), t, status


def overhead(report: Report, url: str, flood_exe: Path) -> None:
    plain, tp, _ = asyncio.run(_flood_through(None, flood_exe))
    exported, te, st = asyncio.run(_flood_through(url, flood_exe))
    ex = st["export"]
    assert isinstance(ex, dict)
    notes = (f"plain: {tp.events:,} delivered + {tp.lost['kernel']:,} kernel lost; export: {te.events:,} "
             f"delivered + {te.lost['kernel']:,} kernel lost, JetStream acked {ex['delivered']:,} of "
             f"{ex['produced']:,} ({ex['lost']:,} export lost)")  # fmt: skip
    print("   ", notes)
    report.add(Figure(SECTION, "producer rate, serve --export", exported, "calls/s", "plain serve", plain,
                      notes=notes))  # fmt: skip


async def _latency(url: str) -> tuple[float, float, int]:
    producer = paced(10_000, 3.0)
    host, _ = _serve(["-e", "syscalls:sys_enter_getppid", "-p", str(producer.pid), "--export", url,
                      "--host-name", "lat"])  # fmt: skip
    fleet, base = _serve(["--from", url, "--hosts", "lat"])
    t = Tally()
    try:
        await asyncio.sleep(1.0)  # the export connected
        async with aiohttp.ClientSession() as http, http.get(base + "/events.ndjson") as r:
            await asyncio.sleep(0.3)  # its consumer made
            producer.release()
            counting = asyncio.create_task(count_ndjson(r, None, t, latency=True))
            n = int((await asyncio.to_thread(producer.finish)).split()[0])
            deadline = time.monotonic() + 60
            while t.accounted < n and not counting.done() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            counting.cancel()
    finally:
        _stop(host)
        _stop(fleet)
    return percentile(t.latencies, 0.5) / 1e6, percentile(t.latencies, 0.99) / 1e6, t.events


def latency(report: Report, url: str) -> None:
    p50, p99, n = asyncio.run(_latency(url))
    report.add(Figure(SECTION, "latency kernel->serve --from client p50 @10k ev/s", p50, "ms",
                      higher_is_better=False, notes=f"{n:,} events"))  # fmt: skip
    report.add(Figure(SECTION, "latency kernel->serve --from client p99 @10k ev/s", p99, "ms",
                      higher_is_better=False))  # fmt: skip


def run(report: Report) -> None:
    if shutil.which("nats-server") is None or os.geteuid() != 0:
        print("    skipped: needs nats-server (make deps) and root")
        return
    with tempfile.TemporaryDirectory(prefix="ringscope-bench-") as d:
        server = NatsServer(d)
        try:
            publishing(report, server.url)
            flood_exe, _ = build()
            overhead(report, server.url, flood_exe)
            latency(report, server.url)
        finally:
            server.close()
