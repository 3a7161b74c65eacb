"""CounterSet and stat formatting above the syscall seam (no kernel)."""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator

import pytest

from ringscope._perf import syscall
from ringscope.errors import BadInput, PermissionDenied
from ringscope.perf import statfmt
from ringscope.perf.counting import CounterSet, Reading
from ringscope.perf.events import parse_event, parse_events
from ringscope.perf.target import Target


@pytest.fixture
def fake_open(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    answers: list[int] = []
    monkeypatch.setattr(syscall, "sys_perf_event_open", lambda *a: answers.pop(0))
    yield answers


def test_unsupported_event_is_kept_not_raised(fake_open: list[int]) -> None:
    fake_open.append(-errno.ENOENT)
    with CounterSet(parse_events(["cycles"]), Target("t", [(1, -1)])) as cs:
        (r,) = cs.read()
    assert not r.supported and r.reason == "not supported"


@pytest.mark.parametrize(("err", "exc"), [(errno.EACCES, PermissionDenied), (errno.ESRCH, BadInput)])
def test_open_errors_raise(fake_open: list[int], err: int, exc: type[Exception]) -> None:
    fake_open.append(-err)
    with pytest.raises(exc):
        CounterSet(parse_events(["task-clock"]), Target("t", [(1, -1)]))


def test_multiplexed_counts_are_scaled() -> None:
    r = Reading(parse_event("page-faults"), 100, enabled=1000, running=250)
    assert r.value == 400.0
    assert r.pcnt_running == 25.0


def test_rows_and_json_fields() -> None:
    clock = Reading(parse_event("task-clock"), 2_000_000, 2_000_000, 2_000_000)
    faults = Reading(parse_event("page-faults"), 50, 2_000_000, 2_000_000)
    cycles = Reading(parse_event("cycles"), 0, 0, 0, supported=False, reason="not supported")
    rows = statfmt.rows([clock, faults, cycles], wall_ns=4_000_000)
    objs = [json.loads(line) for line in statfmt.format_json(rows).splitlines()]
    assert objs[0]["counter-value"] == "2.000000" and objs[0]["unit"] == "msec"
    assert objs[0]["metric-value"] == 0.5 and objs[0]["metric-unit"] == "CPUs utilized"
    assert objs[1]["metric-value"] == 25.0 and objs[1]["metric-unit"] == "K/sec"
    assert objs[2]["counter-value"] == "<not supported>"
    keys = {"counter-value", "unit", "event", "event-runtime", "pcnt-running", "metric-value", "metric-unit"}
    assert all(set(o) == keys for o in objs)
    csv = statfmt.format_csv(rows, ";").splitlines()
    assert csv[1].split(";")[:3] == ["50", "", "page-faults"]
    assert "<not supported>" in statfmt.format_text(rows, "'x'", 4_000_000)


def test_hardware_metrics() -> None:
    """IPC, GHz and miss ratios, as perf derives them (no PMU needed)."""
    ns = 1_000_000_000
    rs = [
        Reading(parse_event("task-clock"), ns, ns, ns),
        Reading(parse_event("cycles"), 3 * ns, ns, ns),
        Reading(parse_event("instructions"), 6 * ns, ns, ns // 2),  # multiplexed: scaled x2
        Reading(parse_event("branches"), 1000, ns, ns),
        Reading(parse_event("branch-misses"), 25, ns, ns),
    ]
    by = {r.event: r for r in statfmt.rows(rs, wall_ns=ns)}
    assert by["cycles"].metric_value == pytest.approx(3.0) and by["cycles"].metric_unit == "GHz"
    assert by["instructions"].metric_value == pytest.approx(4.0)  # 12e9 scaled / 3e9
    assert by["instructions"].metric_unit == "insn per cycle" and by["instructions"].pcnt_running == 50.0
    assert by["branch-misses"].metric_value == pytest.approx(2.5)
    assert "(50.00%)" in statfmt.format_text(statfmt.rows(rs, ns), "'x'", ns)
