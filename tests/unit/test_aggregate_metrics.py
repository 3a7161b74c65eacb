"""Aggregates in /metrics without a kernel: a fake Histogram (the seam) with
readings made by hand, rendered and read back with prometheus_client's
parser and promtool. Names from real specs built without tracefs."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any, cast

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ringscope.errors import BadInput
from ringscope.events.layout import struct_dtype
from ringscope.objects import object_btf
from ringscope.server.aggregate_metrics import render_aggregates
from ringscope.server.aggregate_names import MetricName, check_names, metric_name
from ringscope.server.aggregates import Aggregate, AggregateSet
from ringscope.sources.hist import HistData, Histogram
from ringscope.sources.hist_plan import Hook, Plan
from ringscope.sources.hist_query import HistQuery
from ringscope.sources.tracepoint import TracepointSpec
from ringscope.sources.uprobe import UprobeSpec
from ringscope.tracefs import TpField, TpFormat

KEY = struct_dtype(object_btf("hist"), "rs_hist_key")
VAL = struct_dtype(object_btf("hist"), "rs_hist_val")


def _slots(**at: int) -> list[int]:
    s = [0] * 64
    for k, v in at.items():
        s[int(k[1:])] = v
    return s


class FakeHist:
    """What render_aggregates uses of a Histogram: read(), labels(), plan, max_labels."""

    def __init__(
        self, unit: str, kind: str, rows: dict[str, list[int]], other: list[int] | None = None
    ) -> None:
        self.plan = Plan(kind, unit, (Hook("x"),), label="comm", key="comm")
        self.max_labels = 4
        self.rows, self.other = rows, other or [0] * 64

    def open(self) -> FakeHist:
        return self

    def close(self) -> None:
        pass

    def read(self) -> HistData:
        keys = np.zeros(len(self.rows), KEY)
        vals = np.zeros(len(self.rows), VAL)
        for i, (comm, slots) in enumerate(self.rows.items()):
            keys[i]["comm"] = comm.encode()
            vals[i]["slots"] = slots or [0] * 64
            vals[i]["count"] = sum(slots) or 5
            vals[i]["sum"] = sum(c * (1 << j) for j, c in enumerate(slots))
        other = np.zeros(1, VAL)[0]
        other["slots"], other["count"], other["sum"] = self.other, sum(self.other), 7 * sum(self.other)
        return HistData(keys, vals["count"], vals["sum"], vals["slots"], other, sum(self.other), 0, 1)

    def labels(self, keys: np.ndarray) -> list[Any]:
        return [bytes(k).split(b"\0", 1)[0].decode() for k in keys["comm"]]


def _render(*aggs: tuple[str, FakeHist, MetricName]) -> str:
    s = AggregateSet()
    for agg_id, h, m in aggs:
        s.add(Aggregate(agg_id, cast(Histogram, h), m))
    return render_aggregates(s).decode()


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (x.name, frozenset(x.labels.items())): x.value
        for f in text_string_to_metric_families(text)
        for x in f.samples
    }


LAT = MetricName(
    "ringscope_syscall_latency_seconds", "histogram", "Syscall latency", (("syscall", "read"),), "comm"
)


def test_log2_slots_become_exact_cumulative_le_buckets() -> None:
    # slot 19: 0.52-1.05 ms, slot 20: 1.05-2.1 ms, slot 3: 8-15 ns (below the first bucket, 1.023 us)
    h = FakeHist("nsecs", "log2", {"sleepy": _slots(s3=2, s19=5, s20=90, s40=1)})
    s = _samples(_render(("a", h, LAT)))
    lab = {("syscall", "read"), ("comm", "sleepy")}

    def bucket(le: str) -> float:
        return s[("ringscope_syscall_latency_seconds_bucket", frozenset({*lab, ("le", le)}))]

    assert bucket("1.023e-06") == 2  # everything at or below the first bound
    assert bucket("0.000524287") == 2 and bucket("0.001048575") == 7 and bucket("0.002097151") == 97
    assert bucket("68.719476735") == 97 and bucket("+Inf") == 98  # slot 40 (~1100 s) only in +Inf
    assert s[("ringscope_syscall_latency_seconds_count", frozenset(lab))] == 98
    exact_ns = 2 * 8 + 5 * (1 << 19) + 90 * (1 << 20) + (1 << 40)
    assert s[("ringscope_syscall_latency_seconds_sum", frozenset(lab))] == pytest.approx(
        exact_ns / 1e9, rel=1e-15
    )


def test_other_is_always_a_series_and_a_real_other_joins_it() -> None:
    h = FakeHist("", "count", {"bash": [], "other": []}, other=_slots(s0=3))
    m = MetricName("ringscope_syscalls_total", "counter", "Syscalls", (("syscall", "read"),), "comm")
    text = _render(("syscalls:sys_enter_read?by=comm", h, m))
    s = _samples(text)
    assert s[("ringscope_syscalls_total", frozenset({("syscall", "read"), ("comm", "bash")}))] == 5
    assert s[("ringscope_syscalls_total", frozenset({("syscall", "read"), ("comm", "other")}))] == 3 + 5
    assert (
        s[
            (
                "ringscope_aggregate_overflow_total",
                frozenset({("aggregate", "syscalls:sys_enter_read?by=comm")}),
            )
        ]
        == 3
    )
    assert text.count('comm="other"') == 1


def test_label_values_are_escaped() -> None:
    evil = 'a"b\\c\nd'
    h = FakeHist("bytes", "log2", {evil: _slots(s12=1)})
    s = _samples(_render(("x", h, LAT)))
    assert (
        s[("ringscope_syscall_latency_seconds_count", frozenset({("syscall", "read"), ("comm", evil)}))] == 1
    )
    assert (
        s[
            (
                "ringscope_syscall_latency_seconds_bucket",
                frozenset({("syscall", "read"), ("comm", evil), ("le", "8191")}),
            )
        ]
        == 1
    )


def test_an_unlabelled_aggregate_exports_zeros_before_its_first_event() -> None:
    h = FakeHist("nsecs", "log2", {})
    h.plan = Plan("log2", "nsecs", (Hook("x"),))
    m = MetricName("ringscope_runqlat_seconds", "histogram", "Run-queue latency")
    s = _samples(_render(("runqlat", h, m)))
    assert s[("ringscope_runqlat_seconds_count", frozenset())] == 0
    assert s[("ringscope_runqlat_seconds_bucket", frozenset({("le", "+Inf")}))] == 0


def test_families_are_shared_and_promtool_is_clean() -> None:
    need_promtool = shutil.which("promtool")
    read = FakeHist("nsecs", "log2", {"a": _slots(s10=1)})
    write = FakeHist("nsecs", "log2", {"b": _slots(s11=2)})
    m2 = MetricName(LAT.family, LAT.type, LAT.help, (("syscall", "write"),), "comm")
    text = _render(("r", read, LAT), ("w", write, m2))
    assert text.count("# TYPE ringscope_syscall_latency_seconds histogram") == 1
    if need_promtool is None:
        pytest.skip("promtool is not installed")
    res = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert res.returncode == 0 and not (res.stdout + res.stderr).strip(), res.stdout + res.stderr


# -- names ---------------------------------------------------------------------


def _tp(system: str, name: str) -> TracepointSpec:
    fields = (TpField("fd", "unsigned int", 16, 8, False), TpField("ret", "long", 16, 8, True))
    return TracepointSpec(name=f"tracepoint:{system}:{name}", obj="tracepoint", programs=(), struct="", enum="",
                          doc="", format=TpFormat(system, name, 1, fields))  # fmt: skip


class Named:
    """What metric_name() uses of a Histogram: query, spec, plan."""

    def __init__(
        self, spec: object, query: HistQuery, kind: str, unit: str, label: str | None = None
    ) -> None:
        self.query, self.spec = query, spec
        self.plan = Plan(kind, unit, (Hook("x"),), label=label)


def _name(spec: object, q: HistQuery, kind: str, unit: str, label: str | None = None) -> MetricName:
    return metric_name(cast(Histogram, Named(spec, q, kind, unit, label)))


def test_names_follow_prometheus_conventions() -> None:
    read = _tp("syscalls", "sys_enter_read")
    m = _name(read, HistQuery("syscalls:sys_enter_read", latency=True), "log2", "nsecs", "comm")
    assert (m.family, m.type, m.fixed, m.label) == (
        "ringscope_syscall_latency_seconds", "histogram", (("syscall", "read"),), "comm")  # fmt: skip
    assert _name(read, HistQuery("syscalls:sys_enter_read"), "count", "").family == "ringscope_syscalls_total"
    exit_read = _tp("syscalls", "sys_exit_read")
    m = _name(exit_read, HistQuery("syscalls:sys_exit_read", value="ret"), "log2", "bytes")
    assert m.family == "ringscope_syscall_ret_bytes" and m.fixed == (("syscall", "read"),)
    raw = _tp("raw_syscalls", "sys_enter")
    m = _name(raw, HistQuery("raw_syscalls:sys_enter", latency=True, by="id"), "log2", "nsecs", "syscall")
    assert m.family == "ringscope_syscall_latency_seconds" and m.fixed == () and m.label == "syscall"
    m = _name(_tp("sched", "sched_process_fork"), HistQuery("sched:sched_process_fork"), "count", "")
    assert m.family == "ringscope_sched_sched_process_fork_total"
    assert _name(None, HistQuery("runqlat"), "log2", "nsecs").family == "ringscope_runqlat_seconds"
    up = UprobeSpec(name="uretprobe:libc:malloc", obj="uprobe", programs=(), struct="", enum="", doc="",
                    binary="/lib/libc.so.6", func="malloc", offset=0, retprobe=True)  # fmt: skip
    m = _name(up, HistQuery("uretprobe:libc:malloc"), "log2", "nsecs")
    assert m.family == "ringscope_uprobe_latency_seconds" and dict(m.fixed) == {
        "binary": "/lib/libc.so.6", "function": "malloc"}  # fmt: skip
    m = _name(read, HistQuery("syscalls:sys_enter_read", name="reads", value="fd", unit="none"), "log2", "")
    assert m.family == "ringscope_reads"
    m = _name(read, HistQuery("syscalls:sys_enter_read", by="syscall"), "count", "", "syscall")
    assert m.label == "by_syscall"  # a label of `by` never shadows a fixed one


def test_shared_families_must_agree() -> None:
    a = MetricName("ringscope_syscalls_total", "counter", "", (("syscall", "read"),), "comm")
    check_names(
        [a], MetricName("ringscope_syscalls_total", "counter", "", (("syscall", "write"),), "comm"), "w"
    )
    with pytest.raises(BadInput, match="other labels"):
        check_names([a], MetricName("ringscope_syscalls_total", "counter", "", (("syscall", "write"),)), "w")
    with pytest.raises(BadInput, match="same series"):
        check_names([a], a, "again")
