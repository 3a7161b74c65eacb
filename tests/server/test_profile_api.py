"""GET /api/profile: a live profile through the same profiler as `record`,
over real HTTP, in the formats the dashboard and other tools read; bad
input is a JSON 400, as for /api/hist."""

from __future__ import annotations

import gzip
import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.kernel.perf_workloads import HOT_C, build
from tests.server.conftest import Server


@pytest.fixture
def hot(tmp_path: Path) -> subprocess.Popen[bytes]:
    exe = build(HOT_C, tmp_path / "hot")
    proc = subprocess.Popen([str(exe), "30"])
    yield proc
    proc.kill()
    proc.wait()


def _top_frame(doc: dict[str, object]) -> str:
    """The frame that ends the most sample weight, in a speedscope document."""
    frames = doc["shared"]["frames"]  # type: ignore[index]
    weight: Counter[str] = Counter()
    for prof in doc["profiles"]:  # type: ignore[attr-defined]
        for stack, w in zip(prof["samples"], prof["weights"], strict=True):
            if stack:
                weight[frames[stack[-1]]["name"]] += w
    return weight.most_common(1)[0][0]


async def test_a_profile_of_a_process_names_its_hot_function(
    server: Server, hot: subprocess.Popen[bytes]
) -> None:
    status, doc = await server.get_json(f"/api/profile?duration=1&pid={hot.pid}&freq=499")
    assert status == 200, doc
    assert _top_frame(doc) == "hot_spin"
    async with server.http.get(server.url + f"/api/profile?duration=0.5&pid={hot.pid}&format=folded") as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        folded = await r.text()
    assert any(line.rsplit(" ", 1)[0].endswith("hot_spin") for line in folded.splitlines())
    async with server.http.get(server.url + f"/api/profile?duration=0.5&pid={hot.pid}&format=pprof") as r:
        assert r.status == 200
        assert gzip.decompress(
            await r.read()
        )  # a gzipped profile.proto (go tool pprof reads it: test_profiler)


async def test_the_whole_system_with_dwarf_stacks(server: Server, hot: subprocess.Popen[bytes]) -> None:
    status, doc = await server.get_json("/api/profile?duration=1&call_graph=dwarf&freq=199")
    assert status == 200, doc
    names = {f["name"] for f in doc["shared"]["frames"]}
    assert "hot_spin" in names


@pytest.mark.parametrize(
    ("query", "expect"),
    [
        ("duration=nan", "duration"),
        ("duration=0", "duration"),
        ("duration=1000", "duration"),
        ("call_graph=lbr", "call_graph"),
        ("format=svg", "format"),
        ("pid=%EF%BC%91", "pid"),  # a fullwidth digit one
        ("pid=999999999", "pid"),
        ("freq=0", "freq"),
        ("color=red", "unknown parameter 'color'"),
        ("duration=1&duration=2", "duration"),
    ],
)
async def test_bad_input_is_a_json_400(server: Server, query: str, expect: str) -> None:
    async with server.http.get(server.url + "/api/profile?" + query) as r:
        assert r.status == 400, await r.text()
        doc = json.loads(await r.text())
    assert expect in doc["error"]
