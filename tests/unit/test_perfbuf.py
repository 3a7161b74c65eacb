"""The perf buffer reader without a kernel: record parsing (runs, LOST,
wrap-around), the per-CPU merge, and the transport choice with a fake
feature probe."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ringscope.errors import BadInput, NotSupported
from ringscope.features import Feature, Features
from ringscope.transport.base import Run
from ringscope.transport.choice import choose_transport
from ringscope.transport.perfbuf import PERF_RECORD_LOST, PERF_RECORD_SAMPLE, parse_records, per_cpu_pages
from ringscope.transport.reorder import ReorderBuffer
from ringscope.transport.topology import online_cpus


def sample(ts: int, tag: int, size: int = 72) -> bytes:
    """A PERF_RECORD_SAMPLE with PERF_SAMPLE_RAW, as the kernel lays it out:
    the raw size is padded so u32 size + data stay 8-aligned."""
    payload = struct.pack("<QQ", ts, tag).ljust(size, b"\xee")
    raw = (len(payload) + 4 + 7) // 8 * 8 - 4
    return struct.pack("<IHHI", PERF_RECORD_SAMPLE, 0, 12 + raw, raw) + payload.ljust(raw, b"\0")


def lost(n: int) -> bytes:
    return struct.pack("<IHHQQ", PERF_RECORD_LOST, 0, 24, 7, n)


def records_of(runs: list[Run]) -> list[tuple[int, int]]:
    """(ts, tag) of every record, reading them where the decoder does: at +8."""
    out = []
    for run in runs:
        for i in range(run.count):
            out.append(struct.unpack_from("<QQ", run.data, i * run.stride + 8))
    return out


def ring_with(records: bytes, size: int, start: int) -> tuple[np.ndarray, int, int]:
    """A ring of `size` bytes holding `records` from position `start` (may wrap)."""
    data = np.zeros(size, np.uint8)
    for i, b in enumerate(records):
        data[(start + i) % size] = b
    return data, start, start + len(records)


# -- record parsing -----------------------------------------------------------


def test_parse_runs_lost_and_sizes() -> None:
    recs = sample(1, 1) + sample(2, 2) + lost(5) + sample(3, 3, size=136) + sample(4, 4) + lost(2)
    data, tail, head = ring_with(recs, 4096, 0)
    blocks: list[np.ndarray] = []
    pos, n_lost = parse_records(data, tail, head, blocks)
    assert pos == head
    assert n_lost == 7
    assert [b.shape[0] for b in blocks] == [2, 1, 1]  # same-size samples come out as one block
    assert [b.shape[1] for b in blocks] == [88, 152, 88]


def test_parse_across_the_wrap() -> None:
    recs = b"".join(sample(t, t) for t in range(1, 6))  # 5 x 88 bytes
    data, tail, head = ring_with(recs, 512, 512 - 88 - 40)  # the second record straddles the end
    blocks: list[np.ndarray] = []
    pos, n_lost = parse_records(data, tail, head, blocks)
    assert (pos, n_lost) == (head, 0)
    merged = ReorderBuffer()
    merged.add(blocks)
    assert records_of(merged.release(1 << 63)) == [(t, t) for t in range(1, 6)]


def test_parse_lost_record_across_the_wrap() -> None:
    data, tail, head = ring_with(lost(123) + sample(1, 1), 256, 256 - 16)
    pos, n_lost = parse_records(data, tail, head, [])
    assert (pos, n_lost) == (head, 123)


def test_parse_stops_on_a_corrupt_header() -> None:
    data, tail, head = ring_with(sample(1, 1) + bytes(16), 4096, 0)
    pos, _ = parse_records(data, tail, head, [])
    assert pos == 88  # never spins on a zero-length record


# -- merge ----------------------------------------------------------------------


def blocks_for(*stamps: int, size: int = 72) -> list[np.ndarray]:
    raw = b"".join(sample(t, t, size) for t in stamps)
    data, tail, head = ring_with(raw, 1 << 16, 0)
    blocks: list[np.ndarray] = []
    parse_records(data, tail, head, blocks)
    return blocks


def test_merge_orders_cpus_by_ts_and_holds_the_window() -> None:
    m = ReorderBuffer()
    m.add(blocks_for(10, 30, 50))  # cpu 0
    m.add(blocks_for(20, 40, 60, size=136))  # cpu 1, another record size
    assert m.stats.unordered_in == 2  # 20 and 40 came after 50
    runs = m.release(45)
    assert [ts for ts, _ in records_of(runs)] == [10, 20, 30, 40]
    assert [r.stride for r in runs] == [88, 152, 88, 152]
    assert m.held() == 2
    assert [ts for ts, _ in records_of(m.release(100))] == [50, 60]
    assert m.held() == 0 and m.stats.late == 0


def test_merge_counts_records_later_than_the_window() -> None:
    m = ReorderBuffer()
    m.add(blocks_for(100, 200))
    m.release(150)
    m.add(blocks_for(90))  # ts before what already went out
    assert m.stats.late == 1
    assert records_of(m.release(150)) == [(90, 90)]


def test_merge_is_bounded() -> None:
    m = ReorderBuffer(max_held=3)
    m.add(blocks_for(*range(1, 11)))
    out = records_of(m.release(0))  # nothing due, but only 3 may wait
    assert [ts for ts, _ in out] == list(range(1, 8))
    assert m.held() == 3


def test_equal_timestamps_keep_read_order() -> None:
    m = ReorderBuffer()
    m.add(blocks_for(5, 5, 5))
    assert m.release(5) and m.held() == 0


# -- sizes ------------------------------------------------------------------------


def test_per_cpu_pages_is_a_power_of_two_within_the_total() -> None:
    assert per_cpu_pages(1 << 24, 2) == (1 << 23) // 4096
    assert per_cpu_pages(3 * 4096 * 4, 4) == 2
    assert per_cpu_pages(4096, 8) == 1


def test_online_cpus(tmp_path: Path) -> None:
    p = tmp_path / "online"
    p.write_text("0-3,6,8-9\n")
    assert online_cpus(p) == [0, 1, 2, 3, 6, 8, 9]


# -- transport choice (the fake probe is the seam) ---------------------------------


def fake_features(*, ringbuf: bool, perf: bool = True) -> Features:
    names = Features.__dataclass_fields__
    feats = Features(**{n: Feature(n, True) for n in names})  # type: ignore[arg-type]
    return replace(
        feats,
        ringbuf=Feature("ringbuf", ringbuf, "" if ringbuf else "BPF_MAP_TYPE_RINGBUF needs Linux 5.8"),
        perf_events=Feature("perf_events", perf, "" if perf else "CONFIG_PERF_EVENTS is off"),
    )


def test_default_is_ringbuf() -> None:
    assert choose_transport(None, fake_features(ringbuf=True)) == "ringbuf"


def test_falls_back_to_perfbuf_without_ringbuf() -> None:
    assert choose_transport(None, fake_features(ringbuf=False)) == "perfbuf"


def test_perfbuf_on_request() -> None:
    assert choose_transport("perfbuf", fake_features(ringbuf=True)) == "perfbuf"


def test_ringbuf_requested_but_missing_says_why() -> None:
    with pytest.raises(NotSupported, match=r"5\.8.*--transport perfbuf"):
        choose_transport("ringbuf", fake_features(ringbuf=False))


def test_no_transport_at_all() -> None:
    with pytest.raises(NotSupported, match="CONFIG_PERF_EVENTS"):
        choose_transport(None, fake_features(ringbuf=False, perf=False))


def test_unknown_transport() -> None:
    with pytest.raises(BadInput, match="unknown transport 'pipe'"):
        choose_transport("pipe", fake_features(ringbuf=True))
