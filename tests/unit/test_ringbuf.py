"""RingReader without a kernel: a numpy buffer laid out as the kernel maps a
BPF ring buffer (consumer page; producer page, then the data area twice in a
row) and a fake producer that writes records into it the way
kernel/bpf/ringbuf.c does: reserve (BUSY header, producer_pos advanced),
then commit (header rewritten without BUSY) or discard (DISCARD bit)."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringscope.transport import ringbuf
from ringscope.transport.base import RING_HDR_SIZE, Run
from ringscope.transport.ringbuf import BUSY, DISCARD, PAGE, RingReader


@dataclass
class Slot:
    pos: int  # ring position of the header
    length: int  # record bytes (without the header)


class FakeRing:
    """The memory of a ring of `size` bytes and one producer writing into it."""

    def __init__(self, size: int, wakeup_bytes: int | None = None) -> None:
        self.size = size
        self.consumer = np.zeros(PAGE, np.uint8)
        self.producer = np.zeros(PAGE + 2 * size, np.uint8)
        self.memory = np.zeros(size, np.uint8)
        self.reader = RingReader(self.consumer, self.producer, size, wakeup_bytes=wakeup_bytes)

    @property
    def prod_pos(self) -> int:
        return int(self.producer[:8].view(np.uint64)[0])

    @property
    def cons_pos(self) -> int:
        return int(self.consumer[:8].view(np.uint64)[0])

    def _write(self, pos: int, data: bytes) -> None:
        """Write at ring position `pos`: the memory is `size` bytes, and the
        reader's view of the data area shows it twice in a row."""
        idx = (pos + np.arange(len(data))) % self.size
        self.memory[idx] = np.frombuffer(data, np.uint8)
        self.producer[PAGE:] = np.tile(self.memory, 2)

    def reserve(self, length: int) -> Slot:
        pos = self.prod_pos
        stride = (length + RING_HDR_SIZE + 7) & ~7
        assert pos + stride - self.cons_pos <= self.size, "the fake producer overfilled the ring"
        self._write(pos, struct.pack("<II", length | BUSY, 0))
        self.producer[:8].view(np.uint64)[0] = pos + stride
        return Slot(pos, length)

    def commit(self, slot: Slot, payload: bytes, *, discard: bool = False) -> None:
        assert len(payload) == slot.length
        self._write(slot.pos + RING_HDR_SIZE, payload)
        self._write(slot.pos, struct.pack("<II", slot.length | (DISCARD if discard else 0), 0))

    def put(self, payload: bytes) -> None:
        self.commit(self.reserve(len(payload)), payload)


def payload(i: int, length: int) -> bytes:
    return struct.pack("<Q", i).ljust(length, bytes([i % 251]))[:length]


def records(runs: list[Run]) -> list[bytes]:
    """Each record's payload, as the reader copied it (length from its header)."""
    out = []
    for run in runs:
        for k in range(run.count):
            slot = run.data[k * run.stride : (k + 1) * run.stride].tobytes()
            (length,) = struct.unpack_from("<I", slot)
            assert not length & (BUSY | DISCARD)
            out.append(slot[RING_HDR_SIZE : RING_HDR_SIZE + length])
    return out


def test_empty_ring_drains_nothing() -> None:
    ring = FakeRing(4096)
    assert ring.reader.drain() == []
    assert ring.cons_pos == 0
    assert ring.reader.pending() == 0


def test_equal_sizes_make_one_run() -> None:
    ring = FakeRing(4096)
    sent = [payload(i, 40) for i in range(20)]
    for p in sent:
        ring.put(p)
    runs = ring.reader.drain()
    assert len(runs) == 1 and runs[0].count == 20 and runs[0].stride == 48
    assert records(runs) == sent
    assert ring.cons_pos == ring.prod_pos


def test_mixed_sizes_make_runs_in_order() -> None:
    ring = FakeRing(4096)
    sizes = [16, 16, 16, 100, 100, 16, 7, 7, 7, 7]
    sent = [payload(i, n) for i, n in enumerate(sizes)]
    for p in sent:
        ring.put(p)
    runs = ring.reader.drain()
    assert [r.count for r in runs] == [3, 2, 1, 4]
    assert records(runs) == sent


def test_busy_record_stops_the_drain_until_committed() -> None:
    ring = FakeRing(4096)
    ring.put(payload(0, 24))
    held = ring.reserve(24)  # reserved, not yet submitted
    ring.put(payload(2, 24))  # committed behind it: must wait
    first = ring.reader.drain()
    assert records(first) == [payload(0, 24)]
    assert ring.cons_pos == held.pos
    assert ring.reader.drain() == []
    ring.commit(held, payload(1, 24))
    assert records(ring.reader.drain()) == [payload(1, 24), payload(2, 24)]
    assert ring.cons_pos == ring.prod_pos


def test_discarded_records_are_skipped_and_released() -> None:
    ring = FakeRing(4096)
    ring.put(payload(0, 32))
    gone = ring.reserve(32)
    ring.commit(gone, payload(1, 32), discard=True)
    ring.put(payload(2, 32))
    assert records(ring.reader.drain()) == [payload(0, 32), payload(2, 32)]
    assert ring.cons_pos == ring.prod_pos


def test_record_wrapping_the_end_is_read_whole() -> None:
    ring = FakeRing(4096)
    # Move both positions close to the end of the data area.
    filler = payload(0, 4096 - 64 - RING_HDR_SIZE)
    ring.put(filler)
    assert records(ring.reader.drain()) == [filler]
    sent = [payload(i, 200) for i in range(1, 6)]  # the first one straddles the end
    for p in sent:
        ring.put(p)
    assert ring.prod_pos % ring.size < ring.cons_pos % ring.size
    assert records(ring.reader.drain()) == sent
    assert ring.cons_pos == ring.prod_pos


def test_runs_are_copies_and_the_position_moves_only_after_them(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = FakeRing(4096)
    for i in range(8):
        ring.put(payload(i, 56 if i < 4 else 24))
    seen: list[int] = []

    def spy(stride: int, data: np.ndarray) -> Run:
        # Each run is made right after its copy: the kernel must not yet
        # have been told the space is free.
        seen.append(ring.cons_pos)
        return Run(stride, data)

    monkeypatch.setattr(ringbuf, "Run", spy)
    runs = ring.reader.drain()
    assert seen == [0, 0]
    ring.memory[:] = 0xFF  # the producer reuses the space
    ring.producer[PAGE:] = 0xFF
    assert records(runs) == [payload(i, 56 if i < 4 else 24) for i in range(8)]


def test_wait_does_not_sleep_past_the_wakeup_threshold() -> None:
    ring = FakeRing(4096, wakeup_bytes=256)
    for i in range(8):
        ring.put(payload(i, 40))  # 8 * 48 = 384 bytes pending
    t0 = time.monotonic()
    assert ring.reader.wait(5.0)
    assert time.monotonic() - t0 < 1.0
    ring.reader.drain()
    t0 = time.monotonic()
    assert not ring.reader.wait(0.02)
    assert time.monotonic() - t0 >= 0.015


def test_fill_and_close() -> None:
    ring = FakeRing(8192)
    ring.put(payload(0, 1000))
    assert ring.reader.pending() == 1008
    ring.reader.close()
    ring.reader.close()  # idempotent


def test_size_must_be_a_power_of_two() -> None:
    with pytest.raises(ValueError):
        RingReader(np.zeros(PAGE, np.uint8), np.zeros(PAGE + 6000, np.uint8), 3000)


# A generated sequence of records: (payload length, fate), where fate is
# commit, discard, or "left busy" (reserved and only committed after a drain).
Step = tuple[int, str]
steps = st.lists(st.tuples(st.integers(1, 300), st.sampled_from(["commit", "commit", "discard", "busy"])),
                 min_size=1, max_size=60)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(steps, st.integers(0, 4000))
def test_generated_sequences_arrive_exactly_once_in_order(plan: list[Step], start: int) -> None:
    ring = FakeRing(4096)
    # Start anywhere in the ring, so wrap-around happens at every offset.
    start &= ~7
    ring.producer[:8].view(np.uint64)[0] = start
    ring.consumer[:8].view(np.uint64)[0] = start
    play(ring, plan, lambda: records(ring.reader.drain()), every=7)


def play(ring: FakeRing, plan: list[Step], read: Callable[[], list[bytes]], every: int) -> None:
    """Produce `plan` into `ring` as a producer would (a record left busy is
    committed only once the ring is full), reading with `read` every `every`
    records and whenever the ring fills; every committed record must arrive
    exactly once, in order, and the consumer end where the producer is."""
    expected: list[bytes] = []
    got: list[bytes] = []
    busy: list[tuple[Slot, bytes]] = []
    for i, (length, fate) in enumerate(plan):
        stride = (length + RING_HDR_SIZE + 7) & ~7
        if ring.prod_pos + stride - ring.cons_pos > ring.size:
            got += read()
            for slot, data in busy:  # the producer finally submits them
                ring.commit(slot, data)
            busy.clear()
            got += read()
            assert ring.cons_pos == ring.prod_pos
        data = payload(i, length)
        slot = ring.reserve(length)
        if fate == "discard":
            ring.commit(slot, data, discard=True)
            continue
        expected.append(data)
        if fate == "busy":
            busy.append((slot, data))
        else:
            ring.commit(slot, data)
        if i % every == every // 2:
            got += read()
    for slot, data in busy:
        ring.commit(slot, data)
    got += read()
    assert got == expected
    assert ring.cons_pos == ring.prod_pos
