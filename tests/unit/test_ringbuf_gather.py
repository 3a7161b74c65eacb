"""RingReader.gather() without a kernel, on the fake ring of test_ringbuf:
records of interleaved lengths come back grouped by length, each with its
position in stream order, exactly once, whatever the pattern, wrap-around,
BUSY and DISCARD headers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringscope.transport import ringbuf
from ringscope.transport.base import RING_HDR_SIZE, Run, Window
from tests.unit.test_ringbuf import FakeRing, Step, payload, play, records


def in_order(window: Window) -> list[bytes]:
    """The window's records in stream order, checking its positions cover 0..count-1."""
    out: list[bytes | None] = [None] * window.count
    for run, idx in zip(window.groups, window.index, strict=True):
        assert run.count == len(idx)
        assert bool((np.diff(idx) > 0).all())
        for rec, i in zip(records([run]), idx.tolist(), strict=True):
            assert out[i] is None
            out[i] = rec
    assert all(r is not None for r in out)
    return [r for r in out if r is not None]


def test_alternating_lengths_make_one_group_per_length() -> None:
    ring = FakeRing(8192)
    sent = [payload(i, 40 if i % 2 else 100) for i in range(40)]
    for p in sent:
        ring.put(p)
    w = ring.reader.gather()
    assert sorted(r.stride for r in w.groups) == [48, 112]
    assert [r.count for r in w.groups] == [20, 20]
    assert in_order(w) == sent
    assert ring.cons_pos == ring.prod_pos


def test_a_broken_pattern_resumes_and_keeps_order() -> None:
    ring = FakeRing(16384)
    sizes = [16, 72] * 10 + [16, 16, 200] + [72, 16, 8] * 12 + [300]
    sent = [payload(i, n) for i, n in enumerate(sizes)]
    for p in sent:
        ring.put(p)
    w = ring.reader.gather()
    assert len(w.groups) == 5
    assert in_order(w) == sent


def test_empty_ring_gathers_nothing() -> None:
    ring = FakeRing(4096)
    w = ring.reader.gather()
    assert w.count == 0 and w.groups == [] and ring.cons_pos == 0


def test_busy_and_discarded_records() -> None:
    ring = FakeRing(8192)
    ring.put(payload(0, 24))
    gone = ring.reserve(64)
    ring.commit(gone, payload(1, 64), discard=True)
    ring.put(payload(2, 24))
    ring.put(payload(3, 64))
    held = ring.reserve(24)
    ring.put(payload(5, 64))
    first = ring.reader.gather()
    assert in_order(first) == [payload(0, 24), payload(2, 24), payload(3, 64)]
    assert ring.cons_pos == held.pos
    assert ring.reader.gather().count == 0
    ring.commit(held, payload(4, 24))
    assert in_order(ring.reader.gather()) == [payload(4, 24), payload(5, 64)]
    assert ring.cons_pos == ring.prod_pos


def test_discard_inside_a_repeating_pattern() -> None:
    ring = FakeRing(8192)
    expected = []
    for i in range(30):
        slot = ring.reserve(32 if i % 2 else 48)
        data = payload(i, slot.length)
        ring.commit(slot, data, discard=i % 2 == 1 and i < 20)
        if not (i % 2 == 1 and i < 20):
            expected.append(data)
    assert in_order(ring.reader.gather()) == expected


def test_wrap_around() -> None:
    ring = FakeRing(4096)
    filler = payload(0, 4096 - 64 - RING_HDR_SIZE)
    ring.put(filler)
    assert in_order(ring.reader.gather()) == [filler]
    sent = [payload(i, 120 if i % 2 else 56) for i in range(1, 20)]
    for p in sent:
        ring.put(p)
    assert ring.prod_pos % ring.size < ring.cons_pos % ring.size
    assert in_order(ring.reader.gather()) == sent


def test_groups_are_copies_made_before_the_space_is_released(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = FakeRing(4096)
    sent = [payload(i, 56 if i % 3 else 24) for i in range(30)]
    for p in sent:
        ring.put(p)
    seen: list[int] = []

    def spy(stride: int, data: np.ndarray) -> Run:
        seen.append(ring.cons_pos)
        return Run(stride, data)

    monkeypatch.setattr(ringbuf, "Run", spy)
    w = ring.reader.gather()
    assert seen == [0, 0]
    ring.producer[PAGE:] = 0xFF
    assert in_order(w) == sent


def test_window_runs_restore_stream_order() -> None:
    ring = FakeRing(8192)
    sizes = [8, 8, 40, 8, 40, 40, 40, 16]
    sent = [payload(i, n) for i, n in enumerate(sizes)]
    for p in sent:
        ring.put(p)
    runs = ring.reader.gather().runs()
    assert [r.count for r in runs] == [2, 1, 1, 3, 1]
    assert records(runs) == sent
    again = Window.of(runs)
    assert in_order(again) == sent and again.count == len(sent)
    assert ring.reader.gather().runs() == []  # an empty drain (a tap sees every poll)


PAGE = ringbuf.PAGE
steps = st.lists(st.tuples(st.sampled_from([1, 8, 24, 40, 100, 250]),
                           st.sampled_from(["commit", "commit", "commit", "discard", "busy"])),
                 min_size=1, max_size=80)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(steps, st.integers(0, 4000), st.booleans())
def test_generated_sequences_arrive_exactly_once_in_order(plan: list[Step], start: int, cycle: bool) -> None:
    ring = FakeRing(4096)
    start &= ~7
    ring.producer[:8].view(np.uint64)[0] = start
    ring.consumer[:8].view(np.uint64)[0] = start
    if cycle:  # a repeating pattern, the case the fast path is for
        plan = [plan[i % min(len(plan), 3)] for i in range(len(plan))]
    play(ring, plan, lambda: in_order(ring.reader.gather()), every=9)
