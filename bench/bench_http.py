"""HTTP benchmark: `ringscope serve`'s hub and server, end to end, in one run.

The server is a separate process (the real app over a real Session tracing
getppid() for the flood's pid), pinned to CPU 1; the flood runs on CPU 0;
the clients run here (aiohttp, counting bytes without parsing every event,
so the client is never the bottleneck it measures).

  ndjson e2e   bench/c/flood.c makes N getppid() calls flat out; one NDJSON
               client. Events/s delivered over [flood start, last event],
               and exact accounting: delivered + client lost + kernel lost
               == N (the flood's own count).
  fan-out      a paced flood (R events/s for D s), 100 SSE clients and one
               client that connects and never reads. Server RSS (peak,
               sampled), the rate each reading client got, what the stalled
               one dropped (from /api/status).
  latency      a paced flood at 100k events/s, one NDJSON client; latency
               is client receive time - event ts_ns (both CLOCK_MONOTONIC),
               taking each read's oldest event for every event in that read
               (an upper bound per event). Median of three runs.

RINGSCOPE_BENCH_HTTP_EVENTS (default 2000000) shortens a run.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.bench_reader import build
from bench.report import Figure, Report

SECTION = "http"
N = int(os.environ.get("RINGSCOPE_BENCH_HTTP_EVENTS", 2_000_000))
PRODUCER_CPU, SERVER_CPU = 0, 1
FANOUT_CLIENTS = 100
FANOUT_RATE = 5000
FANOUT_SECONDS = 8.0
LATENCY_RATE = 100_000
LATENCY_SECONDS = 5.0
LATENCY_REPEAT = 3

SERVER = """
import asyncio, os, sys
from aiohttp import web
from ringscope.filters import Filter
from ringscope.hub import Hub
from ringscope.server import ServerState, make_app
from ringscope.session import Session
from ringscope.sources.syscalls import syscall_number

os.sched_setaffinity(0, {int(sys.argv[2])})

async def main() -> None:
    nr = syscall_number("getppid")
    with Session(["syscall"], filter=Filter(exclude_pid=os.getpid()), syscall_id=nr) as s:
        state = ServerState(hub=Hub.for_session(s), session=s, client_queue=int(sys.argv[3]))
        runner = web.AppRunner(make_app(state), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", int(sys.argv[1])).start()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()

asyncio.run(main())
"""

PACED = """
import os, sys, time
os.sched_setaffinity(0, {int(sys.argv[3])})
sys.stdin.read(1)
rate, seconds = float(sys.argv[1]), float(sys.argv[2])
g = os.getppid
n = int(rate * seconds)
t0 = time.monotonic()
for i in range(0, n, 100):
    for _ in range(100):
        g()
    wait = t0 + (i + 100) / rate - time.monotonic()
    if wait > 0:
        time.sleep(wait)
print(n, time.monotonic() - t0, flush=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, client_queue: int = 65536) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-c", SERVER, str(self.port), str(SERVER_CPU), str(client_queue)]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"server failed to start (exit {self.proc.wait()})")

    def rss_mb(self) -> float:
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024  # type: ignore[union-attr]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Producer:
    """A held flood: C flat out (N calls) or Python paced (rate, seconds)."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.pid = self.proc.pid

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("x")
        self.proc.stdin.close()

    def finish(self) -> str:
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        self.proc.wait(60)
        return out


def paced(rate: float, seconds: float) -> Producer:
    return Producer([sys.executable, "-c", PACED, str(rate), str(seconds), str(PRODUCER_CPU)])


@dataclass
class Tally:
    events: int = 0
    lost: dict[str, int] = field(default_factory=lambda: {"kernel": 0, "client": 0, "daemon": 0})
    first_ns: int = 0
    last_ns: int = 0
    latencies: list[tuple[int, int]] = field(default_factory=list)  # (latency ns, events)

    @property
    def accounted(self) -> int:
        return self.events + sum(self.lost.values())


_TS = re.compile(rb'"ts_ns":(\d+)')


async def count_ndjson(
    resp: aiohttp.ClientResponse, total: int | None, t: Tally, latency: bool = False
) -> None:
    """Count events and loss records until `total` are accounted for (or EOF)."""
    buf = b""
    async for chunk in resp.content.iter_any():
        now = time.monotonic_ns()
        data = buf + chunk
        cut = data.rfind(b"\n") + 1
        whole, buf = data[:cut], data[cut:]
        if not whole:
            continue
        n = whole.count(b"\n")
        if b'"type":"lost"' in whole:
            for line in whole.splitlines():
                if b'"type":"lost"' in line:
                    row = json.loads(line)
                    t.lost[row["stage"]] += row["count"]
                    n -= 1
        if latency and n:
            m = _TS.search(whole)
            if m:
                t.latencies.append((now - int(m.group(1)), n))
        t.events += n
        t.first_ns = t.first_ns or now
        t.last_ns = now
        if total is not None and t.accounted >= total:
            return


def percentile(samples: list[tuple[int, int]], q: float) -> float:
    samples = sorted(samples)
    total = sum(w for _, w in samples)
    acc = 0
    for v, w in samples:
        acc += w
        if acc >= q * total:
            return float(v)
    return float(samples[-1][0]) if samples else 0.0


# -- scenarios ----------------------------------------------------------------


async def ndjson_e2e(report: Report, flood_exe: Path) -> None:
    server = Server()
    try:
        flood = Producer([str(flood_exe), str(N), str(PRODUCER_CPU), "--hold"])
        t = Tally()
        timeout = aiohttp.ClientTimeout(total=None, sock_read=30)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            q = f"/events.ndjson?types=syscall&pid={flood.pid}"
            async with http.get(server.url + q) as r:
                t0 = time.monotonic_ns()
                flood.release()
                await count_ndjson(r, N, t)
        fr = json.loads(flood.finish())
    finally:
        server.close()
    rate = t.events / max((t.last_ns - t0) / 1e9, 1e-9)
    exact = t.accounted == fr["calls"]
    notes = (f"{t.events:,} delivered + lost kernel {t.lost['kernel']:,} client {t.lost['client']:,}"
             f" daemon {t.lost['daemon']:,} = {t.accounted:,} of {fr['calls']:,} produced"
             f" ({'exact' if exact else 'MISMATCH'})")  # fmt: skip
    print("   ", notes)
    report.add(Figure(SECTION, "ndjson e2e, one client (flood)", rate, "events/s",
                      target=">= 1,000,000 events/s, loss exactly accounted", notes=notes))  # fmt: skip
    report.add(Figure(SECTION, "ndjson e2e accounting exact", float(exact), "bool", target="1"))


async def _stall(port: int, pid: int) -> socket.socket:
    """A client that subscribes and then never reads."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /events?types=syscall&pid=%d HTTP/1.1\r\nHost: x\r\n\r\n" % pid)
    return s


async def fanout(report: Report) -> None:
    server = Server(client_queue=4096)
    flood = paced(FANOUT_RATE, FANOUT_SECONDS)
    total = int(FANOUT_RATE * FANOUT_SECONDS)
    tallies = [Tally() for _ in range(FANOUT_CLIENTS)]
    peak = 0.0
    stalled_dropped = 0
    rss0 = produced_rate = 0.0
    try:
        stall = await _stall(server.port, flood.pid)
        timeout = aiohttp.ClientTimeout(total=None, sock_read=30)
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(timeout=timeout, connector=conn) as http:
            q = f"/events?types=syscall&pid={flood.pid}"

            async def client(t: Tally) -> None:
                async with http.get(server.url + q) as r:
                    await count_sse(r, total, t)

            tasks = [asyncio.create_task(client(t)) for t in tallies]
            await asyncio.sleep(1.0)  # everyone subscribed
            rss0 = server.rss_mb()
            flood.release()
            done = asyncio.gather(*tasks)
            while not done.done():
                peak = max(peak, server.rss_mb())
                await asyncio.wait([done], timeout=0.1)
            await done
            async with http.get(server.url + "/api/status") as r:
                doc = await r.json()
            stalled_dropped = max((c["dropped"] for c in doc["clients"] if c["kind"] == "sse"), default=0)
        stall.close()
        produced_rate = total / float(flood.finish().split()[1])
    finally:
        server.close()
    rates = sorted(t.events / max((t.last_ns - t.first_ns) / 1e9, 1e-9) for t in tallies if t.events)
    complete = sum(1 for t in tallies if t.events == total)
    notes = (f"{FANOUT_CLIENTS} clients x {FANOUT_RATE} ev/s for {FANOUT_SECONDS:.0f} s; "
             f"{complete} got all {total} events; stalled client dropped {stalled_dropped}; "
             f"RSS before flood {rss0:.0f} MB")  # fmt: skip
    print("   ", notes)
    report.add(Figure(SECTION, "fan-out: server peak RSS", peak, "MB", higher_is_better=False,
                      target="<= 256 MB", notes=notes))  # fmt: skip
    report.add(Figure(SECTION, "fan-out: slowest client rate", rates[0] if rates else 0, "events/s",
                      baseline_name="produced rate", baseline=produced_rate))  # fmt: skip
    report.add(Figure(SECTION, "fan-out: median client rate", statistics.median(rates) if rates else 0,
                      "events/s", baseline_name="produced rate", baseline=produced_rate))  # fmt: skip
    report.add(Figure(SECTION, "fan-out: clients with every event", complete, "clients",
                      target=f"{FANOUT_CLIENTS}"))  # fmt: skip


async def count_sse(resp: aiohttp.ClientResponse, total: int, t: Tally) -> None:
    buf = b""
    async for chunk in resp.content.iter_any():
        now = time.monotonic_ns()
        data = buf + chunk
        cut = data.rfind(b"\n\n") + 2  # whole messages only: a pattern may straddle reads
        whole, buf = data[:cut], data[cut:]
        t.events += whole.count(b"\nevent: syscall\n")
        if b"event: lost" in whole:
            for m in re.finditer(rb'"count":(\d+)', whole):
                t.lost["client"] += int(m.group(1))
        t.first_ns = t.first_ns or now
        t.last_ns = now
        if t.accounted >= total:
            return


async def _latency_once() -> tuple[float, float, float, int]:
    """One paced run: (p50 ms, p99 ms, delivered rate, events lost)."""
    server = Server()
    flood = paced(LATENCY_RATE, LATENCY_SECONDS)
    total = int(LATENCY_RATE * LATENCY_SECONDS)
    t = Tally()
    try:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=30)
        q = f"/events.ndjson?types=syscall&pid={flood.pid}"
        async with aiohttp.ClientSession(timeout=timeout) as http, http.get(server.url + q) as r:
            t0 = time.monotonic_ns()
            flood.release()
            await count_ndjson(r, total, t, latency=True)
        flood.finish()
    finally:
        server.close()
    rate = t.events / max((t.last_ns - t0) / 1e9, 1e-9)
    p50, p99 = percentile(t.latencies, 0.5) / 1e6, percentile(t.latencies, 0.99) / 1e6
    return p50, p99, rate, sum(t.lost.values())


async def latency(report: Report) -> None:
    # The tail is scheduling on a 2-CPU machine shared by producer, server
    # and client: one run varies by 2x, so report the median of three.
    runs = [await _latency_once() for _ in range(LATENCY_REPEAT)]
    p50 = statistics.median(r[0] for r in runs)
    p99 = statistics.median(r[1] for r in runs)
    notes = "; ".join(f"p50 {a:.2f} p99 {b:.2f} ms at {c:,.0f}/s, lost {d}" for a, b, c, d in runs)
    print("   ", notes)
    report.add(Figure(SECTION, "latency kernel->client p99 @100k ev/s", p99, "ms", higher_is_better=False,
                      target="<= 5 ms", notes=f"median of {len(runs)}: {notes}"))  # fmt: skip
    report.add(Figure(SECTION, "latency kernel->client p50 @100k ev/s", p50, "ms", higher_is_better=False))


def run(report: Report) -> None:
    if os.geteuid() != 0:
        print("    skipped: needs root")
        return
    flood_exe, _ = build()
    asyncio.run(ndjson_e2e(report, flood_exe))
    asyncio.run(latency(report))
    asyncio.run(fanout(report))
