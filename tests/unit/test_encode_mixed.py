"""Mixed batches: several event types interleaved in a drain, decoded per
type and encoded per type, come out byte for byte as the one-Chunk-per-run
path makes them, and as orjson makes the rows, in stream order."""

from __future__ import annotations

from functools import cache

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ringscope import encode
from ringscope.btf import Btf
from ringscope.events.decode import Decoder
from ringscope.events.mixed import Mixed
from ringscope.events.records import Chunk
from ringscope.objects import object_path
from ringscope.sources import EVENTS
from ringscope.transport.base import Run, Window
from tests.unit.test_encode import fill_hostile, layout_of, records

TYPES = ["open", "syscall", "exec", "exit", "connect", "sched_switch"]
SEQ0 = 99_990  # seqs cross a power of ten
UNKNOWN = 0xBEEF  # a type code no decoder knows


@cache
def pool(name: str) -> tuple[np.ndarray, int]:
    """Hostile records of type `name`, as the ring holds them (header included)."""
    recs, code = records(name, 97, seed=len(name))
    fill_hostile(recs, code)
    return recs, layout_of(name)[0].record_size


def decoder() -> Decoder:
    specs = [EVENTS[t] for t in TYPES]
    btfs = [Btf.from_elf(object_path(o)) for o in dict.fromkeys(s.obj for s in specs)]
    d = Decoder(btfs, specs)
    d.next_seq = SEQ0
    return d


def stream(kinds: list[int]) -> list[Run]:
    """One Run per record, in stream order; kind len(TYPES) is an unknown type."""
    runs = []
    for i, k in enumerate(kinds):
        recs, stride = pool(TYPES[k % len(TYPES)])
        data = np.frombuffer(recs[i % len(recs) : i % len(recs) + 1].tobytes(), np.uint8).copy()
        if k == len(TYPES):
            data[decoder()._type_off : decoder()._type_off + 4] = np.frombuffer(
                np.uint32(UNKNOWN).tobytes(), np.uint8
            )
        runs.append(Run(stride, data))
    return runs


def per_run(runs: list[Run]) -> tuple[list[Chunk], int]:
    d = decoder()
    chunks = [c for r in runs for c in d.chunks(r)]
    return chunks, d.unknown


def mixed(runs: list[Run]) -> tuple[Mixed, int]:
    d = decoder()
    batch = d.mixed(Window.of(runs))
    return batch, d.unknown


kinds = st.lists(st.integers(0, len(TYPES)), min_size=1, max_size=120)


@settings(max_examples=60, deadline=None)
@given(kinds)
def test_mixed_encodes_like_orjson_of_rows_in_stream_order(ks: list[int]) -> None:
    runs = stream(ks)
    chunks, unknown = per_run(runs)
    batch, unknown2 = mixed(runs)
    assert unknown2 == unknown == ks.count(len(TYPES))
    rows = [r for c in chunks for r in c.rows()]
    assert [r["seq"] for r in rows] == list(range(SEQ0, SEQ0 + len(rows)))
    assert len(batch) == len(rows) and batch.seq0 == SEQ0
    want = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    assert encode.ndjson_mixed(batch) == want
    assert encode.text_mixed(batch) == b"".join(encode.text_row(r) for r in rows)
    assert encode.sse_mixed(batch) == b"".join(
        b"id: %d\nevent: %s\ndata: %s\n\n" % (r["seq"], r["type"].encode(), orjson.dumps(r)) for r in rows
    )
    assert b"".join(encode.ndjson_mixed(p) for p in batch.pieces(7)) == want
    assert [r for c in batch.chunks() for r in c.rows()] == rows


def test_alternating_types_make_one_part_per_type() -> None:
    runs = stream([0, 1] * 50)
    batch, _ = mixed(runs)
    assert sorted(p.spec.name for p in batch.parts) == ["open", "syscall"]
    assert [len(p) for p in batch.parts] == [50, 50]
    assert set(batch.by_type()) == {"open", "syscall"}
    assert len(batch.chunks()) == 100


def test_window_and_pieces_keep_seqs() -> None:
    batch, _ = mixed(stream([0, 0, 1, 2, 1, 0, 2, 2, 1]))
    w = batch.window(2, 6)
    assert (w.seq0, len(w)) == (SEQ0 + 2, 4)
    assert sorted(s for p in w.parts for s in p.seq_column().tolist()) == list(range(SEQ0 + 2, SEQ0 + 6))
    assert [len(p) for p in batch.pieces(4)] == [4, 4, 1]
    assert batch.window(9, 20).count == 0


def test_a_chunk_with_seqs_splits_and_numbers_its_rows() -> None:
    batch, _ = mixed(stream([0, 1, 0, 1, 0]))
    part = next(p for p in batch.parts if p.spec.name == "open")
    head, tail = part.split(1)
    assert [r["seq"] for r in head.rows()] == [SEQ0]
    assert [r["seq"] for r in tail.rows()] == [SEQ0 + 2, SEQ0 + 4] and tail.seq0 == SEQ0 + 2
    sse = encode.sse(tail)
    assert sse.startswith(b"id: %d\n" % (SEQ0 + 2)) and b"id: %d\n" % (SEQ0 + 4) in sse


def test_empty_window() -> None:
    batch, _ = mixed([])
    assert len(batch) == 0 and encode.ndjson_mixed(batch) == b""
