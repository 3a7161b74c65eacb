"""The export spool and outbox, without NATS: order, byte limits, torn
files, and produced == delivered + lost + waiting at every step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ringscope.btf import Btf
from ringscope.events.decode import Decoder
from ringscope.events.records import Chunk
from ringscope.export import Message, Outbox, Spool
from ringscope.hub import Block
from ringscope.objects import object_path
from ringscope.sources import EVENTS


def chunk_block(seq0: int = 0, n: int = 4) -> Block:
    spec = EVENTS["open"]
    decoder = Decoder([Btf.from_elf(object_path(spec.obj))], [spec])
    code, (layout, spec) = next(iter(decoder.by_code.items()))
    recs = np.zeros(n, layout.ring_dtype(layout.record_size))
    recs["type"] = code
    recs["path"] = [b"/tmp/%d" % i for i in range(n)]
    return Block(Chunk(layout, spec, seq0, recs))


def msg(i: int, count: int = 10, size: int = 100) -> Message:
    return Message("ringscope.h.open", f"h:r:{i}", "open", count, b"x" * size)


def test_the_spool_gives_messages_back_in_order_and_ends_empty(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), 1 << 20)
    for i in range(100):
        assert spool.put(msg(i)) == 0
    assert spool.events == 1000 and len(spool) == 100
    taken = [spool.take() for _ in range(100)]
    assert [m.msg_id for m in taken if m] == [f"h:r:{i}" for i in range(100)]
    assert spool.take() is None and spool.events == 0
    spool.close()
    assert not list(tmp_path.glob("*.rsspool"))


def test_over_its_limit_the_oldest_go_and_are_counted(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), 16 << 10)
    lost = sum(spool.put(msg(i, size=1000)) for i in range(100))
    assert lost > 0 and lost % 10 == 0
    assert spool.bytes <= 16 << 10
    left = []
    while (m := spool.take()) is not None:
        left.append(int(m.msg_id.rsplit(":", 1)[1]))
    assert left == list(range(100 - len(left), 100))  # the newest kept, in order
    assert lost + 10 * len(left) == 1000
    spool.close()


def test_a_torn_spool_replays_up_to_the_tear(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), 1 << 20)
    for i in range(10):
        spool.put(msg(i))
    spool.close()
    (seg,) = tmp_path.glob("*.rsspool")
    data = seg.read_bytes()
    seg.write_bytes(data[:-50])  # killed while writing the last block
    again = Spool(str(tmp_path), 1 << 20)
    assert again.torn == 1 and len(again) == 9
    ids = []
    while (m := again.take()) is not None:
        ids.append(m.msg_id)
    assert ids == [f"h:r:{i}" for i in range(9)]
    again.close()


def test_a_spool_that_is_not_a_capture_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "000000000000.rsspool").write_bytes(b"garbage")
    spool = Spool(str(tmp_path), 1 << 20)
    assert len(spool) == 0 and spool.torn == 1
    spool.close()


ops = st.lists(st.tuples(st.sampled_from(["offer", "take", "ack", "retry"]), st.integers(1, 5)), max_size=60)


@settings(max_examples=60, deadline=None)
@given(ops, st.booleans())
def test_the_outbox_accounts_for_every_event(steps: list[tuple[str, int]],
                                             spooled: bool) -> None:  # fmt: skip
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        box = Outbox(Spool(d, 4000) if spooled else None, memory=1000)
        taken: list[Message] = []
        i = 0
        for op, n in steps:
            if op == "offer":
                box.offer([msg(i + k, count=k + 1, size=300) for k in range(n)])
                i += n
            elif op == "take":
                taken += box.take(n)
            elif taken:
                m = taken.pop(0)
                box.acked(m) if op == "ack" else box.retry(m)
            c = box.counters()
            assert c["produced"] == c["delivered"] + c["lost"] + box.waiting + c["in_flight"]
        box.close()


def test_the_outbox_takes_spooled_messages_before_newer_ones(tmp_path: Path) -> None:
    box = Outbox(Spool(str(tmp_path), 1 << 20), memory=1000)
    box.offer([msg(i, size=300) for i in range(10)])
    assert box.counters()["spool_messages"] > 0
    ids = [m.msg_id for m in box.take(100)]
    assert ids == [f"h:r:{i}" for i in range(10)]
    box.close()
