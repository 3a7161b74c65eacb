"""The perf event catalogue behind `ringscope list`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ringscope.perf.catalog import catalog

HW_PMU = Path("/sys/bus/event_source/devices/cpu").exists()


def test_catalog_availability() -> None:
    by = {e["name"]: e for e in catalog()}
    for name in ("task-clock", "cpu-clock", "page-faults", "context-switches"):
        assert by[name]["kind"] == "software" and by[name]["available"], by[name]
    assert by["cycles"]["kind"] == "hardware"
    assert by["cycles"]["available"] == HW_PMU
    if not HW_PMU:
        assert "PMU" in by["cycles"]["reason"]
        assert not by["L1-dcache-load-misses"]["available"]
    tp = by["sched:sched_switch"]
    assert tp["kind"] == "tracepoint" and tp["available"]
    assert {e["kind"] for e in by.values()} == {"hardware", "software", "cache", "tool", "tracepoint"}


def test_list_cli_includes_perf_events() -> None:
    res = subprocess.run([str(Path(sys.executable).parent / "ringscope"), "list", "--json"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert res.returncode == 0, res.stderr
    by = {o["name"]: o for o in map(json.loads, res.stdout.splitlines())}
    assert by["task-clock"]["available"] is True
    assert by["cycles"]["available"] is HW_PMU
