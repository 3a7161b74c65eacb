"""Hosts export to one JetStream; the fleet view and a plain subscriber
each see every event of every host, counted exactly against what each
host produced, through outages and spool limits."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from .conftest import EVENT, Flood, Nats, Serve, host, stored, wait_settled, wait_until

pytestmark = pytest.mark.fleet


async def _read_fleet(url: str, want: dict[str, int], timeout: float = 60) -> Counter[str]:
    """Events of EVENT per host from the fleet view, read until `want` is reached."""
    got: Counter[str] = Counter()
    seqs: set[tuple[str, int]] = set()
    async with aiohttp.ClientSession() as http, http.get(f"{url}/events.ndjson?after=0") as r:
        assert r.status == 200
        async with asyncio.timeout(timeout):
            while any(got[h] < n for h, n in want.items()):
                line = await r.content.readline()
                row = json.loads(line)
                if row["type"] == EVENT:
                    assert (row["host"], row["seq"]) not in seqs, "an event delivered twice"
                    seqs.add((row["host"], row["seq"]))
                    got[row["host"]] += 1
    return got


async def test_two_hosts_one_view_every_event_exactly(nats: Nats) -> None:
    fleet = Serve("--from", nats.url)
    floods = {"alpha": Flood(3000), "beta": Flood(5000)}
    hosts = {name: host(nats.url, name, f.proc.pid) for name, f in floods.items()}
    try:
        for h in hosts.values():
            wait_until(lambda h=h: h.export_status()["connected"], what="export connected")
        reader = asyncio.create_task(_read_fleet(fleet.url, {"alpha": 1, "beta": 1}, 120))
        for f in floods.values():
            f.release()
        for f in floods.values():
            f.proc.wait(60)
        settled = {name: wait_settled(h) for name, h in hosts.items()}
        kernel = {name: h.get("/api/status")["lost"]["kernel"] for name, h in hosts.items()}
        for name, s in settled.items():
            assert s["lost"] == 0
            assert s["produced"] + kernel[name] == floods[name].n  # what the flood did, all accounted
        want = {name: s["produced"] for name, s in settled.items()}
        await reader
        assert await _read_fleet(fleet.url, want) == Counter(want)
        per_host, seqs, _ = await stored(nats.url)
        assert per_host == Counter(want)
        assert set(seqs.values()) == {1}
        hosts_seen = {row["host"]: row for row in fleet.get("/api/hosts")["hosts"]}
        assert set(hosts_seen) == {"alpha", "beta"}
    finally:
        for h in hosts.values():
            h.stop()
        fleet.stop()
        for f in floods.values():
            f.close()


async def test_nats_killed_during_a_flood_every_event_stored_once(nats: Nats, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    flood = Flood(300_000, pause=0.01)
    h = host(nats.url, "gamma", flood.proc.pid, "--export-spool", str(spool), "--export-buffer", "256K")
    try:
        wait_until(lambda: h.export_status()["connected"], what="export connected")
        flood.release()
        time.sleep(0.5)
        nats.kill()
        time.sleep(1.5)
        assert h.get("/healthz")["ok"]  # serving locally all along
        nats.start()
        flood.proc.wait(120)
        s = wait_settled(h, 120)
        print(s)
        assert s["lost"] == 0 and s["reconnects"] > 0, str(s) + str(h.get("/api/status")["lost"])
        assert s["spool_events"] == 0 and not list(spool.glob("*.rsspool"))
        per_host, seqs, _ = await stored(nats.url)
        assert per_host["gamma"] == s["produced"] == s["delivered"]
        assert len(seqs) == s["produced"] and set(seqs.values()) == {1}  # every event once, by seq
    finally:
        h.stop()
        flood.close()


async def test_a_tiny_spool_counts_exactly_what_is_missing(nats: Nats, tmp_path: Path) -> None:
    flood = Flood(60_000)
    h = host(nats.url, "delta", flood.proc.pid, "--export-spool", str(tmp_path / "spool"),
             "--export-buffer", "16K", "--export-spool-limit", "2M")  # fmt: skip
    try:
        wait_until(lambda: h.export_status()["connected"], what="export connected")
        nats.kill()
        flood.release()
        flood.proc.wait(60)
        wait_until(lambda: h.export_status()["produced"] > 0, what="events produced")
        time.sleep(0.5)
        nats.start()
        s = wait_settled(h, 120)
        assert s["lost"] > 0 and s["delivered"] > 0
        per_host, seqs, _ = await stored(nats.url)
        assert per_host["delta"] == s["delivered"] and set(seqs.values()) == {1}
        assert s["produced"] - per_host["delta"] == s["lost"]  # the export loss is what is missing
        status = h.get("/api/status")
        assert status["lost"]["export"] == s["lost"]
        metrics = _metric(h, "ringscope_export_lost_events_total")
        assert metrics == s["lost"]
        deadline = time.monotonic() + 30
        while (await stored(nats.url))[2] != s["lost"]:  # the loss record, with the next heartbeat
            assert time.monotonic() < deadline, "no export loss record in the stream"
            await asyncio.sleep(0.2)
    finally:
        h.stop()
        flood.close()


def _metric(h: Serve, name: str) -> float:
    import urllib.request

    with urllib.request.urlopen(h.url + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_interleaved_types_go_to_their_own_subjects(nats: Nats) -> None:
    """getppid's entry and exit alternate in the ring, so the host's hub makes
    mixed blocks: each type's events land on its own subject, once each."""
    import nats as nats_py

    flood = Flood(2000)
    h = Serve("-e", "syscalls:sys_enter_getppid,syscalls:sys_exit_getppid", "-p", str(flood.proc.pid),
              "--export", nats.url, "--host-name", "mix")  # fmt: skip
    try:
        wait_until(lambda: h.export_status()["connected"], what="export connected")
        flood.release()
        flood.proc.wait(60)
        settled = wait_settled(h)
        assert settled["lost"] == 0 and h.get("/api/status")["lost"]["kernel"] == 0
        nc = await nats_py.connect(nats.url)
        try:
            js = nc.jetstream()
            last = (await js.stream_info("RINGSCOPE")).state.last_seq
            sub = await js.subscribe("ringscope.mix.*", ordered_consumer=True)
            seen: Counter[tuple[str, int]] = Counter()
            while True:
                msg = await sub.next_msg(timeout=5)
                token = msg.subject.split(".")[2]
                if token.startswith("tracepoint_"):
                    for line in msg.data.splitlines():
                        row = json.loads(line)
                        assert token == row["type"].replace(":", "_")
                        seen[row["type"], row["seq"]] += 1
                if msg.metadata.sequence.stream >= last:
                    break
        finally:
            await nc.close()
        assert set(seen.values()) == {1}
        per_type = Counter(t for t, _ in seen)
        assert per_type == {
            "tracepoint:syscalls:sys_enter_getppid": 2000,
            "tracepoint:syscalls:sys_exit_getppid": 2000,
        }
    finally:
        h.stop()
        flood.close()
