"""Two event types interleaved in the ring, against one type, in the same run.

bench/c/open_flood.c makes failing openat(2) calls flat out on CPU 0. Every
call is one `open` event and one `syscall` event (both written at syscall
exit, so the ring holds them alternately), or one `sys_enter_openat` and one
`sys_exit_openat` tracepoint record (of two sizes). The flood makes N/2 calls
for a pair, N for the single-type baseline (`trace -e open`), so each run
puts N = 300,000 events in the ring. Default settings, `--format json -o
/dev/null`, consumer pinned to CPU 1.

For each: the fraction delivered (delivered / (delivered + kernel lost), from
trace's summary line) and the consumer's CPU per delivered event, with the
single-type run of this same bench as the baseline. The serve case is the
same pair through `ringscope serve`'s hub with one NDJSON client.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from bench.bench_dynamic import build
from bench.bench_http import Producer, Tally, count_ndjson, free_port
from bench.bench_trace import SUMMARY, _consume, _cpu_ns
from bench.report import Figure, Report

SECTION = "mixed"
N = 300_000
PRODUCER_CPU, CONSUMER_CPU = 0, 1
SINGLE = ("open", 1)
PAIRS = [("open,syscall", 2), ("syscalls:sys_enter_openat,syscalls:sys_exit_openat", 2)]

SERVER = """
import asyncio, os, sys
from aiohttp import web
from ringscope.filters import Filter
from ringscope.hub import Hub
from ringscope.server import ServerState, make_app
from ringscope.session import Session

os.sched_setaffinity(0, {int(sys.argv[2])})

async def main() -> None:
    with Session(sys.argv[3].split(","), filter=Filter(exclude_pid=os.getpid())) as s:
        state = ServerState(hub=Hub.for_session(s), session=s)
        runner = web.AppRunner(make_app(state), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", int(sys.argv[1])).start()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()

asyncio.run(main())
"""


def trace(exe: Path, events: str, per_call: int) -> tuple[int, int, int]:
    """(delivered, kernel lost, consumer CPU ns) of one trace run."""
    flood = subprocess.Popen([str(exe), str(N // per_call), "--linger"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)  # fmt: skip
    os.sched_setaffinity(flood.pid, {PRODUCER_CPU})
    argv = [sys.executable, "-m", "ringscope", "trace", "-e", events, "--format", "json",
            "-p", str(flood.pid), "-o", os.devnull]  # fmt: skip
    _, cpu, err = _consume(argv, flood, stdout=subprocess.DEVNULL)
    m = SUMMARY.search(err.decode())
    if m is None:
        raise RuntimeError(f"no summary from ringscope: {err.decode()}")
    return int(m[1]), int(m[2]), cpu


async def _serve_client(url: str, flood: Producer, t: Tally) -> None:
    timeout = aiohttp.ClientTimeout(total=None, sock_read=30)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as r:
        flood.release()
        reading = asyncio.ensure_future(count_ndjson(r, None, t))
        await asyncio.get_running_loop().run_in_executor(None, flood.finish)
        # What is still in the ring and the queues: until every event of the
        # flood is accounted for (delivered or counted lost).
        end = time.monotonic() + 120
        while time.monotonic() < end and t.accounted < N:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        reading.cancel()


def serve(exe: Path, events: str, per_call: int) -> tuple[int, int, int]:
    """(delivered, lost at any stage, server CPU ns) for one NDJSON client of serve."""
    port = free_port()
    args = [sys.executable, "-c", SERVER, str(port), str(CONSUMER_CPU), events]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("server failed to start")
        flood = Producer([str(exe), str(N // per_call), "--hold"])
        os.sched_setaffinity(flood.pid, {PRODUCER_CPU})
        t = Tally()
        cpu0 = _cpu_ns(proc.pid)
        asyncio.run(_serve_client(f"http://127.0.0.1:{port}/events.ndjson?pid={flood.pid}", flood, t))
        return t.events, sum(t.lost.values()), _cpu_ns(proc.pid) - cpu0
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _figures(report: Report, name: str, r: tuple[int, int, int], base: tuple[int, int, int]) -> None:
    def frac(x: tuple[int, int, int]) -> float:
        return 100 * x[0] / max(1, x[0] + x[1])

    def cpu(x: tuple[int, int, int]) -> float:
        return x[2] / max(1, x[0])

    notes = f"{r[0]:,} delivered, {r[1]:,} counted lost"
    report.add(Figure(SECTION, f"{name}: delivered", frac(r), "%", "one type", frac(base),
                      target="target >= 99 %", notes=notes))  # fmt: skip
    report.add(Figure(SECTION, f"{name}: consumer CPU", cpu(r), "ns/event", "one type", cpu(base),
                      higher_is_better=False))  # fmt: skip


def run(report: Report) -> None:
    exe = build()
    base = trace(exe, *SINGLE)
    print(f"  trace -e open (baseline): {base[0]:,} delivered, {base[1]:,} lost", flush=True)
    for events, per_call in PAIRS:
        _figures(report, f"trace -e {events}", trace(exe, events, per_call), base)
    time.sleep(0.5)
    sbase = serve(exe, *SINGLE)
    print(f"  serve -e open (baseline): {sbase[0]:,} delivered, {sbase[1]:,} lost", flush=True)
    _figures(report, "serve -e open,syscall", serve(exe, "open,syscall", 2), sbase)
