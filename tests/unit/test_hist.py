"""Histogram snapshots without a kernel: differences, JSON and bcc-style text."""

from __future__ import annotations

import json

from ringscope.sources.hist_snapshot import HistRow, HistSnapshot


def _slots(**at: int) -> tuple[int, ...]:
    s = [0] * 64
    for k, v in at.items():
        s[int(k[1:])] = v
    return tuple(s)


def _snap(rows: tuple[HistRow, ...], overflow: int = 0, other: HistRow | None = None) -> HistSnapshot:
    return HistSnapshot("uretprobe:libc:malloc", "comm", "log2", "nsecs", 1, rows, overflow, other=other)


def test_interval_is_the_difference_of_cumulative_snapshots() -> None:
    a = _snap((HistRow("bash", 3, 300, _slots(s6=3)),))
    b = _snap((HistRow("bash", 5, 700, _slots(s6=4, s8=1)), HistRow("ls", 1, 9, _slots(s3=1))), overflow=2,
              other=HistRow("other", 2, 20, _slots(s4=2)))  # fmt: skip
    d = b.minus(a)
    assert d.interval and d.overflow == 2
    assert d.other is not None and d.other.count == 2 and d.total == 5
    rows = {r.key: r for r in d.rows}
    assert rows["bash"].count == 2 and rows["bash"].sum == 400
    assert rows["bash"].slots[6] == 1 and rows["bash"].slots[8] == 1
    assert rows["ls"].count == 1
    assert b.minus(b).rows == ()


def test_as_dict_buckets_are_json() -> None:
    doc = _snap((HistRow("bash", 4, 1000, _slots(s0=1, s9=3)),)).as_dict()
    json.dumps(doc)
    (row,) = doc["rows"]
    assert row["buckets"][0] == {"le": 1, "count": 1}
    assert row["buckets"][-1] == {"le": 1023, "count": 3} and len(row["buckets"]) == 10
    assert doc["total"] == 4 and doc["unit"] == "nsecs"


def test_render_log2_like_funclatency() -> None:
    text = _snap((HistRow("bash", 4, 1000, _slots(s8=1, s9=3)),)).render()
    lines = text.splitlines()
    assert lines[0] == "comm = bash"
    assert "256 -> 511" in lines[2] and "|*************" in lines[2]
    assert "512 -> 1023" in lines[3] and "*" * 40 in lines[3]
    assert lines[-1] == "avg = 250 nsecs, total: 1000 nsecs, count: 4"


def test_render_counts_sorted() -> None:
    s = HistSnapshot("syscalls:sys_enter_openat", "comm", "count", "", 1,
                     (HistRow("ls", 3), HistRow("bash", 30)), 1, other=HistRow("other", 1))  # fmt: skip
    lines = s.render().splitlines()
    assert lines[0].split() == ["COMM", "COUNT"]
    assert lines[1].split() == ["bash", "30"] and lines[2].split() == ["ls", "3"]
    assert lines[3].split() == ["other", "1"] and s.total == 34
    assert "1 events counted as 'other'" in lines[-1]


def test_other_is_the_last_row_in_json() -> None:
    doc = _snap((HistRow("bash", 4, 1000, _slots(s9=4)),), 3, HistRow("other", 3, 30, _slots(s3=3))).as_dict()
    assert [r["key"] for r in doc["rows"]] == ["bash", "other"]
    assert doc["overflow"] == 3 and doc["total"] == 7
