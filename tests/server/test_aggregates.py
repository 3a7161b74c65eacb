"""In-kernel aggregates over real HTTP: added through POST /api/aggregates,
scraped from /metrics by aiohttp, checked with `promtool check metrics`
and parsed with prometheus_client's parser. Each workload is a child of
this test, and each aggregate is filtered to it."""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import subprocess
import sys
import threading
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import need
from tests.server.conftest import Server

ME = os.getpid()
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

SLEEPER = """
import os, sys, time
os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))  # woken on time: no timer slack, no queueing
sys.stdin.read(1)
for _ in range(int(sys.argv[1])):
    time.sleep(0.001)
"""
SPIN = "import sys, time\nsys.stdin.read(1)\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end: pass"


async def scrape(server: Server) -> str:
    async with server.http.get(server.url + "/metrics") as r:
        assert r.status == 200
        return await r.text()


def promtool_clean(text: str) -> None:
    need(shutil.which("promtool") is not None, "promtool (Debian package prometheus; make setup installs it)")
    res = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert res.returncode == 0 and not res.stdout.strip() and not res.stderr.strip(), res.stdout + res.stderr


def samples(text: str) -> Samples:
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, f"duplicate series {key}"
            out[key] = s.value
    return out


def series(s: Samples, name: str, **labels: str) -> dict[frozenset[tuple[str, str]], float]:
    """Samples of `name` whose labels include `labels`."""
    want = set(labels.items())
    return {lab: v for (n, lab), v in s.items() if n == name and want <= lab}


def one(s: Samples, name: str, **labels: str) -> float:
    (value,) = series(s, name, **labels).values()
    return value


async def add(server: Server, spec: str) -> dict[str, Any]:
    status, doc = await server.post_json("/api/aggregates", {"spec": spec})
    assert status == 201, doc
    return dict(doc)


def held(code: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdin=subprocess.PIPE)


def go(*procs: subprocess.Popen[bytes]) -> None:
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(b"g")
        p.stdin.close()


async def test_nanosleep_latency_is_exact_in_metrics(server: Server) -> None:
    n = 200
    child = held(SLEEPER, str(n))
    try:
        await add(server, f"syscalls:sys_enter_clock_nanosleep?latency=1&pid={child.pid}")
        before = samples(await scrape(server))
        go(child)
        assert await asyncio.to_thread(child.wait, 30) == 0
        text = await scrape(server)
    finally:
        child.kill()
        child.wait()
    promtool_clean(text)
    after = samples(text)
    name, sel = "ringscope_syscall_latency_seconds", {"syscall": "clock_nanosleep"}
    count = one(after, name + "_count", **sel) - one(before, name + "_count", **sel)
    assert count == n
    buckets = {float(dict(lab)["le"]): v for lab, v in series(after, name + "_bucket", **sel).items()}
    in_range = buckets[0.002097151] - buckets[0.000524287]  # (0.52 ms, 2.1 ms]: the 1-2 ms log2 buckets
    assert in_range >= 0.95 * n, buckets
    assert buckets[float("inf")] == count
    total = one(after, name + "_sum", **sel)
    assert abs(total - n * 0.001) <= 0.1 * n * 0.001, total


async def test_runqlat_tail_and_monotonic_scrapes(server: Server) -> None:
    cpu = max(os.sched_getaffinity(0))
    victim, hog = held(SPIN, "0.8"), held(SPIN, "2.0")
    try:
        for p in (victim, hog):
            os.sched_setaffinity(p.pid, {cpu})
        await add(server, f"runqlat?pid={victim.pid}")
        await add(server, f"syscalls:sys_enter_getppid?by=comm&pid={ME}")
        go(victim, hog)
        await asyncio.sleep(0.3)
        await asyncio.to_thread(lambda: [os.getppid() for _ in range(100)])
        first = await scrape(server)
        await asyncio.to_thread(lambda: [os.getppid() for _ in range(100)])
        assert await asyncio.to_thread(victim.wait, 30) == 0
        second = await scrape(server)
    finally:
        for p in (victim, hog):
            p.kill()
            p.wait()
    for text in (first, second):
        promtool_clean(text)
    a, b = samples(first), samples(second)
    aggregate_series = [
        k for k in a if k[0].startswith(("ringscope_runqlat", "ringscope_syscalls", "ringscope_aggregate"))
    ]
    assert aggregate_series
    for key in aggregate_series:
        if not key[0].endswith("label_sets"):  # gauges may go either way
            assert b[key] >= a[key], key
    buckets = {float(dict(lab)["le"]): v for lab, v in series(b, "ringscope_runqlat_seconds_bucket").items()}
    assert buckets[float("inf")] - buckets[0.001048575] >= 10, buckets  # the tail: waits over 1 ms
    calls = [sum(series(x, "ringscope_syscalls_total", syscall="getppid").values()) for x in (a, b)]
    assert calls[1] - calls[0] == 100


def _named_calls(names: list[str], calls: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)

    def work(name: str) -> None:
        libc.prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME: this thread's comm
        for _ in range(calls):
            os.getppid()

    for name in names:
        t = threading.Thread(target=work, args=(name,))
        t.start()
        t.join()


async def test_label_cap_other_and_overflow(server: Server) -> None:
    capped = f"syscalls:sys_enter_getppid?by=comm&max_labels=4&pid={ME}"
    capped = (await add(server, capped))["id"]  # the canonical spec: parameters in a fixed order
    await add(server, f"syscalls:sys_enter_getppid?by=comm&pid={ME}&name=getppid_uncapped")
    names, calls = [f"rs-lab-{i}" for i in range(10)], 25
    await asyncio.to_thread(_named_calls, names, calls)
    text = await scrape(server)
    promtool_clean(text)
    s = samples(text)
    small = {
        dict(lab)["comm"]: v for lab, v in series(s, "ringscope_syscalls_total", syscall="getppid").items()
    }
    big = {dict(lab)["comm"]: v for lab, v in series(s, "ringscope_getppid_uncapped_total").items()}
    assert len(small) == 5 and small["other"] == 6 * calls
    assert {k: v for k, v in big.items() if k != "other"} == dict.fromkeys(names, calls) and big["other"] == 0
    assert sum(small.values()) == sum(big.values()) == 10 * calls
    assert one(s, "ringscope_aggregate_overflow_total", aggregate=capped) == 6 * calls
    assert one(s, "ringscope_aggregate_label_sets", aggregate=capped) == 4


async def test_api_lists_and_removes_aggregates(server: Server) -> None:
    spec = f"syscalls:sys_enter_getppid?latency=1&pid={ME}"
    doc = await add(server, spec)
    assert (
        doc["id"] == spec
        and doc["type"] == "histogram"
        and doc["metric"] == "ringscope_syscall_latency_seconds"
    )
    await asyncio.to_thread(lambda: [os.getppid() for _ in range(50)])
    status, listing = await server.get_json("/api/aggregates")
    (agg,) = listing["aggregates"]
    assert status == 200 and agg["count"] == 50 and sum(agg["slots"]) == 50 and len(agg["slots"]) == 64
    async with server.http.delete(server.url + "/api/aggregates", params={"id": spec}) as r:
        assert r.status == 204
    assert "ringscope_syscall_latency_seconds" not in await scrape(server)
    async with server.http.delete(server.url + "/api/aggregates", params={"id": spec}) as r:
        assert r.status == 404


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({"spec": "nosuch:thing"}, "unknown tracepoint"),
        ({"spec": "runqlat?colour=red"}, "unknown parameter 'colour'"),
        ({"spec": "runqlat?max_labels=0"}, "bad max_labels"),
        ({"spec": "runqlat?by=arg0"}, "cannot group"),
        ({"spec": "runqlat?by=comm&by=pid"}, "given more than once"),
        ({"event": "runqlat", "latency": 1.5}, "expected a string"),
        ({"spec": "runqlat?name=bad-name"}, "bad name"),
        ("runqlat", "expected a JSON object"),
    ],
)
async def test_bad_specs_are_400_and_load_nothing(server: Server, body: Any, word: str) -> None:
    status, doc = await server.post_json("/api/aggregates", body)
    assert status == 400 and word in doc["error"], doc
    assert (await server.get_json("/api/aggregates"))[1] == {"aggregates": []}


async def test_clashing_names_and_duplicates_are_400(server: Server) -> None:
    await add(server, f"syscalls:sys_enter_getppid?by=comm&pid={ME}")
    for spec, word in (
        (f"syscalls:sys_enter_getppid?by=comm&pid={ME}", "already exists"),
        (f"syscalls:sys_enter_getppid?pid={ME}", "other labels"),
        (f"syscalls:sys_enter_getppid?by=comm&pid={ME}&max_labels=3", "same series"),
    ):
        status, doc = await server.post_json("/api/aggregates", {"spec": spec})
        assert status == 400 and word in doc["error"], (spec, doc)
