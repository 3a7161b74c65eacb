"""The capture format at its seams, on synthetic polls: blocks and poll
records round-trip with and without zstd, a file cut at any byte gives
back every whole poll before the cut, and the replaying Reader paces,
holds and ends as documented."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

from ringscope.capture.format import BlockReader, BlockWriter, Kind
from ringscope.capture.polls import PollDecoder, PollEncoder
from ringscope.errors import BadInput
from ringscope.transport.base import Run
from ringscope.transport.capture import CaptureReader, PollRecord


def _polls(n: int) -> list[PollRecord]:
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        runs = [Run(stride, rng.integers(0, 4, stride * count, dtype=np.uint8))
                for stride, count in ((24, i % 5 + 1), (64, 2))]  # fmt: skip
        drops = [0, i // 3, 0]
        out.append(PollRecord(1000 * i, runs if i % 4 else [], drops, i if i % 3 == 0 else None, i == n - 1))
    return out


def _same(a: PollRecord, b: PollRecord) -> bool:
    runs = len(a.runs) == len(b.runs) and all(
        x.stride == y.stride and bytes(x.data) == bytes(y.data) for x, y in zip(a.runs, b.runs, strict=True)
    )
    return runs and (a.now_ns, a.drops, a.skipped, a.flush) == (b.now_ns, b.drops, b.skipped, b.flush)


def _file(polls: list[PollRecord], compress: bool, per_block: int = 4) -> bytes:
    fh = io.BytesIO()
    out = BlockWriter(fh, compress=compress)
    out.write_file_header()
    out.write(Kind.META, b"{}")
    enc = PollEncoder()
    for i in range(0, len(polls), per_block):
        block = out.block()
        for p in polls[i : i + per_block]:
            parts: list[bytes | memoryview] = []
            enc.encode(p, parts)
            block.add(parts)
        out.finish(Kind.POLLS, block)
    return fh.getvalue()


def _read(data: bytes) -> tuple[list[PollRecord], str | None]:
    reader = BlockReader(io.BytesIO(data), "f")
    dec = PollDecoder("f")
    polls = [
        p
        for b in reader
        if b.kind == Kind.POLLS
        for p in dec.decode(b.payload, b.offset, complete=b.complete)
    ]
    return polls, reader.truncated


@pytest.mark.parametrize("compress", [True, False])
def test_polls_round_trip(compress: bool) -> None:
    polls = _polls(23)
    got, truncated = _read(_file(polls, compress))
    assert truncated is None and len(got) == len(polls)
    assert all(_same(a, b) for a, b in zip(polls, got, strict=True))


@pytest.mark.parametrize("compress", [True, False])
def test_a_file_cut_at_any_byte_gives_back_the_whole_polls_before_the_cut(compress: bool) -> None:
    polls = _polls(10)
    data = _file(polls, compress, per_block=3)
    for cut in range(16, len(data)):
        got, truncated = _read(data[:cut])
        assert all(_same(a, b) for a, b in zip(polls, got, strict=False)), cut
        assert truncated is None or "stops inside the block at byte" in truncated
    whole, _ = _read(data[: len(data) - 1])
    assert len(whole) >= len(polls) - 1  # poll by poll: at most the poll cut in two is lost


def test_bad_files_are_bad_input() -> None:
    data = _file(_polls(5), True)
    for bad in (b"", b"nope" * 10, data[:8] + b"\x02\x00" + data[10:], data[:40] + b"\xff" + data[41:]):
        with pytest.raises(BadInput):
            _read(bad)


def _reader(polls: list[PollRecord], speed: float = 0.0) -> CaptureReader:
    return CaptureReader(iter(polls), size=1 << 16, speed=speed)


def test_the_reader_hands_on_one_poll_per_drain_with_its_counters() -> None:
    polls = _polls(6)
    r = _reader(polls)
    try:
        for i, p in enumerate(polls):
            assert r.exhausted() == (i == len(polls) - 1)
            runs = r.drain()
            assert [bytes(x.data) for x in runs] == [bytes(x.data) for x in p.runs]
            assert r.drops_by_code() == p.drops and r.now_ns() == p.now_ns
            assert r.skipped_runs() == max(q.skipped or 0 for q in polls[: i + 1])
        assert r.finished() and r.drain() == [] and not r.wait(0)
    finally:
        r.close()


def test_no_demand_holds_the_replay_and_the_fd_says_when_a_poll_is_due() -> None:
    r = _reader(_polls(3))
    try:
        assert r.wait(0)
        r.set_demand(False)
        assert r.drain() == [] and not r.wait(0.01) and r.polls_read == 0
        r.set_demand(True)
        r.drain()
        assert r.polls_read == 1
    finally:
        r.close()


def test_speed_one_keeps_the_recorded_pace() -> None:
    polls = [PollRecord(t, [], [0]) for t in (0, 50_000_000, 100_000_000)]  # 0, 50 and 100 ms
    r = _reader(polls, speed=1.0)
    try:
        start = time.monotonic()
        r.drain()
        assert r.drain() == [] and r.polls_read == 1  # the second is due in 50 ms
        while r.polls_read < 3:
            r.wait(0.2)
            r.drain()
        assert 0.09 <= time.monotonic() - start < 1.0
    finally:
        r.close()
