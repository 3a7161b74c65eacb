"""/metrics follows Prometheus' rules: `promtool check metrics` finds
nothing to say, counters never go down and histograms are cumulative
between two scrapes around real traffic, every traced type has its series
from the start, and clients coming and going add no series."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import need
from tests.server.conftest import EVENTS, Server, held_flood, release
from tests.server.test_backpressure import drain_exact

Sample = tuple[str, tuple[tuple[str, str], ...]]  # name, sorted labels


def parse(text: str) -> tuple[dict[Sample, float], dict[str, str]]:
    """Every sample by (name, labels), and the type of the family of each
    sample name (counter, gauge, histogram, ...)."""
    values: dict[Sample, float] = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            values[(s.name, tuple(sorted(s.labels.items())))] = s.value
            types.setdefault(s.name, family.type)
    return values, types


async def scrape(server: Server) -> str:
    async with server.http.get(server.url + "/metrics") as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return await r.text()


def promtool(text: str) -> str:
    need(shutil.which("promtool") is not None, "promtool (Debian package prometheus; make setup installs it)")
    p = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    return (p.stdout + p.stderr).strip() if p.returncode else p.stdout.strip()


def histograms(
    values: dict[Sample, float], types: dict[str, str]
) -> Iterator[tuple[str, list[float], float]]:
    """(name, bucket counts in `le` order, _count) per histogram series."""
    for name, kind in types.items():
        if kind != "histogram" or (name + "_count", ()) not in values:
            continue  # a sample name of a histogram, or a histogram with labels (we have none)
        buckets = sorted(
            ((float(dict(labels)["le"]), v) for (n, labels), v in values.items() if n == name + "_bucket"),
        )
        yield name, [v for _, v in buckets], values[(name + "_count", ())]


def counters(values: dict[Sample, float], types: dict[str, str]) -> dict[Sample, float]:
    """The samples that may never go down: counters and histograms' parts."""
    return {k: v for k, v in values.items() if types[k[0]] in ("counter", "histogram")}


async def traffic(server: Server) -> None:
    """Events delivered, dropped for a slow client, and clients that leave."""
    server.state.client_queue = 1000
    proc = held_flood(20_000)
    try:
        q = f"/events.ndjson?types=syscall&pid={proc.pid}"
        async with (
            server.http.get(server.url + q) as slow,
            server.http.get(server.url + q + "&policy=drop-newest"),
        ):
            release(proc)
            await drain_exact(slow, 20_000)
        for _ in range(5):
            async with server.http.get(server.url + "/events.ndjson?types=open&pid=1") as r:
                assert r.status == 200
    finally:
        proc.wait(10)
    await asyncio.sleep(0.1)


async def test_two_scrapes_around_traffic(server: Server) -> None:
    first = await scrape(server)
    assert promtool(first) == ""
    v1, types = parse(first)
    for name in EVENTS:  # zero from the start, for every traced type
        assert v1[("ringscope_events_produced_total", (("type", name),))] == 0
        assert v1[("ringscope_events_delivered_total", (("type", name),))] == 0
        assert v1[("ringscope_client_lost_events_total", (("reason", "drop-newest"), ("type", name)))] == 0
    assert v1[("ringscope_reader_up", ())] == 1
    assert any(n == "ringscope_build_info" for n, _ in v1)
    assert ("process_resident_memory_bytes", ()) in v1 and ("process_cpu_seconds_total", ()) in v1
    assert not any("client" in dict(labels) for _, labels in v1), "no label per client"

    await traffic(server)
    second = await scrape(server)
    assert promtool(second) == ""
    v2, types2 = parse(second)
    c1, c2 = counters(v1, types), counters(v2, types2)
    assert set(c1) <= set(c2), "a counter series went away"
    went_down = {k: (c1[k], c2[k]) for k in c1 if c2[k] < c1[k]}
    assert not went_down, went_down
    grew = {k for k in c1 if c2[k] > c1[k]}
    assert ("ringscope_events_produced_total", (("type", "syscall"),)) in grew
    assert ("ringscope_client_lost_events_total", (("reason", "drop-newest"), ("type", "syscall"))) in grew
    assert ("ringscope_reader_batch_events_count", ()) in grew
    for values, kinds in ((v1, types), (v2, types2)):
        for name, buckets, count in histograms(values, kinds):
            assert buckets == sorted(buckets) and buckets[-1] == count, name  # cumulative in `le`

    # Clients come and go: the set of series stays the same.
    for _ in range(10):
        async with server.http.get(server.url + "/events?types=open&pid=1") as r:
            assert r.status == 200
    v3, _ = parse(await scrape(server))
    ours = {k for k in v2 if k[0].startswith("ringscope_")}
    assert {k for k in v3 if k[0].startswith("ringscope_")} == ours
