"""perf stat's output shapes: aggregates (-A, --per-core, --per-socket),
repeated runs (-r), digit groups (big-num), tool events. Expected lines are
copied from Debian's perf 6.1 on this kind of machine."""

from __future__ import annotations

import json

import pytest

from ringscope.errors import BadInput
from ringscope.perf import aggregate as agg
from ringscope.perf import statfmt
from ringscope.perf.counting import Reading
from ringscope.perf.events import EventDesc
from ringscope.transport.topology import CpuId, parse_cpu_list

FAULTS = EventDesc("page-faults", "software", 1, 2)
CLOCK = EventDesc("cpu-clock", "software", 1, 0)
DURATION = EventDesc("duration_time", "tool", -1, 0)


def _r(ev: EventDesc, raw: int, ns: int = 100_000_000) -> Reading:
    return Reading(ev, raw, ns, ns)


def test_noise_is_perfs_standard_error_of_the_mean() -> None:
    # mean 12, sample variance 4, variance of the mean 4/3
    assert agg.std_error([10, 12, 14]) == pytest.approx((4 / 3) ** 0.5)
    assert agg.noise_pct([10, 12, 14]) == pytest.approx(100 * (4 / 3) ** 0.5 / 12)
    assert agg.std_error([5]) == 0.0


def test_mean_of_runs_with_noise() -> None:
    runs = [[agg.Group(None, [_r(FAULTS, v)])] for v in (10, 12, 14)]
    (g,) = agg.mean_groups(runs)
    assert g.readings[0].value == 12 and g.noise == (pytest.approx(agg.noise_pct([10, 12, 14])),)
    (row,) = statfmt.group_rows([g], 1e8)
    assert row.as_json()["variance"] == round(agg.noise_pct([10, 12, 14]), 2)
    line = statfmt.format_text([row], None)
    assert line.startswith("                12      page-faults") and line.endswith("( +-  9.62% )")


def _topology(monkeypatch: pytest.MonkeyPatch) -> dict[int, list[Reading]]:
    # Four CPUs: two cores of two threads on socket 0.
    monkeypatch.setattr(agg, "cpu_id", lambda cpu: CpuId(0, 0, cpu // 2, cpu))
    return {cpu: [_r(FAULTS, 100 * (cpu + 1)), _r(CLOCK, 50_000_000)] for cpu in range(4)}


def test_per_cpu_core_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    per_cpu = _topology(monkeypatch)
    total = [sum(col[1:], col[0]) for col in zip(*per_cpu.values(), strict=True)]
    cpus = agg.aggregate(total, per_cpu, "cpu")
    assert [g.aggr.label for g in cpus if g.aggr] == ["CPU0", "CPU1", "CPU2", "CPU3"]
    cores = agg.aggregate(total, per_cpu, "core")
    assert [(g.aggr.label, g.aggr.nr, g.readings[0].raw) for g in cores if g.aggr] == [
        ("S0-D0-C0", 2, 300), ("S0-D0-C1", 2, 700)]  # fmt: skip
    (sock,) = agg.aggregate(total, per_cpu, "socket")
    assert sock.aggr is not None and (sock.aggr.label, sock.aggr.nr, sock.readings[0].raw) == ("S0", 4, 1000)
    assert agg.aggregate(total, per_cpu, "global")[0].aggr is None
    # perf -A prints event by event, one line per CPU; rates use that CPU's clock.
    rows = statfmt.group_rows(cpus[:2], 5e7)
    assert [(r.event, r.aggr.label if r.aggr else "") for r in rows] == [
        ("page-faults", "CPU0"), ("page-faults", "CPU1"), ("cpu-clock", "CPU0"), ("cpu-clock", "CPU1")]  # fmt: skip
    text = statfmt.format_text(rows, None).splitlines()
    assert text[0].startswith(
        "CPU0                      100      page-faults                      #    2.000 K/sec"
    )
    core_line = statfmt.format_text(statfmt.group_rows(cores, 5e7), None).splitlines()[0]
    assert core_line.startswith("S0-D0-C0           2                300      page-faults")
    sock_line = statfmt.format_text(statfmt.group_rows([sock], 5e7), None).splitlines()[0]
    assert sock_line.startswith("S0        4               1000      page-faults")


def test_json_and_csv_carry_the_aggregate(monkeypatch: pytest.MonkeyPatch) -> None:
    per_cpu = _topology(monkeypatch)
    total = [sum(col[1:], col[0]) for col in zip(*per_cpu.values(), strict=True)]
    cpu_rows = statfmt.group_rows(agg.aggregate(total, per_cpu, "cpu"), 5e7)
    first = json.loads(statfmt.format_json(cpu_rows).splitlines()[0])
    assert list(first)[:2] == ["cpu", "counter-value"] and first["cpu"] == "0"
    core_rows = statfmt.group_rows(agg.aggregate(total, per_cpu, "core"), 5e7)
    core = json.loads(statfmt.format_json(core_rows).splitlines()[0])
    assert (core["core"], core["aggregate-number"]) == ("S0-D0-C0", 2)
    assert statfmt.format_csv(cpu_rows, ",").splitlines()[0].startswith("CPU0,100,,page-faults,")
    assert statfmt.format_csv(core_rows, ",").splitlines()[0].startswith("S0-D0-C0,2,300,,page-faults,")


def test_big_num_digit_groups() -> None:
    rows = statfmt.rows([_r(FAULTS, 10050), Reading(CLOCK, 1_189_560_000, 10**9, 10**9)], 2e9)
    text = statfmt.format_text(rows, None, thousands=",").splitlines()
    assert text[0].split()[0] == "10,050" and text[1].split()[0] == "1,189.56"
    plain = statfmt.format_text(rows, None).splitlines()
    assert plain[0].split()[0] == "10050" and plain[1].split()[0] == "1189.56"


def test_tool_events_print_in_ns() -> None:
    (row,) = statfmt.rows([_r(DURATION, 977_367)], 1e6)
    assert statfmt.format_text([row], None) == "            977367 ns   duration_time"
    assert row.metric_value is None


def test_elapsed_with_runs() -> None:
    footer = statfmt.Footer("'true'", 1_034_000, runs=5, wall_sd_ns=118_000)
    text = statfmt.format_text([], footer)
    assert " Performance counter stats for 'true' (5 runs):" in text
    assert "          0.001034 +- 0.000118 seconds time elapsed  ( +- 11.41% )" in text
    assert "seconds user" not in text


def test_cpu_lists() -> None:
    assert parse_cpu_list("0-3,5") == [0, 1, 2, 3, 5] and parse_cpu_list("1,1,0") == [0, 1]
    for bad in ("3-1", "a", "", "\uff10", "0-99999999"):
        with pytest.raises(BadInput, match="bad CPU list"):
            parse_cpu_list(bad)
