"""The hub fed Mixed batches (several types interleaved in one drain): one
block per batch, in seq order; clients filtering by type or by field get
their events in order, with the bytes the per-type encoding makes; counts,
client losses and replay per type."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ringscope import encode
from ringscope.events.decode import Decoder
from ringscope.events.mixed import Batch, Mixed
from ringscope.filters import Filter
from ringscope.hub import ClientFilter, ClientLoss, Hub, View
from ringscope.hub.blocks import MIXED
from ringscope.transport.base import Window
from tests.unit.test_encode_mixed import decoder, stream

KINDS = [0, 1] * 20 + [0, 0, 1, 0]  # open, syscall, ... (44 events)


class MixedSession:
    def __init__(self) -> None:
        self.filter = Filter()
        self.drain_interval = 0.001
        self.lost = {"kernel": 0, "daemon": 0}
        self.decoder: Decoder = decoder()
        self.items: list[Batch] = []
        self.rows: list[dict[str, Any]] = []

    def poll(self, timeout: float | None = None, *, flush: bool = False, mixed: bool = False) -> list[Batch]:
        assert mixed
        items, self.items = self.items, []
        return items

    def push(self, kinds: list[int]) -> None:
        runs = stream(kinds)
        batch = self.decoder.mixed(Window.of(runs))
        self.rows += [r for c in batch.chunks() for r in c.rows()]
        self.items.append(batch)

    def set_filter(self, flt: Filter, type_mask: int | None = None) -> None:
        pass

    def detach(self) -> None:
        pass

    def kernel_drops(self) -> dict[str, int]:
        return {}

    def ring_fill(self) -> float:
        return 0.0


@pytest.fixture
def fake() -> MixedSession:
    return MixedSession()


@pytest.fixture
def hub(fake: MixedSession) -> Hub:
    codes = {name: code for code, (_, spec) in fake.decoder.by_code.items() for name in [spec.name]}
    return Hub(fake, codes, -1, replay=1000)


def lines(entries: list[Any]) -> list[bytes]:
    return [line for e in entries if isinstance(e, View) for line in e.ndjson().splitlines()]


def test_every_client_gets_its_types_in_seq_order(fake: MixedSession, hub: Hub) -> None:
    every = hub.subscribe(ClientFilter())
    opens = hub.subscribe(ClientFilter(types={"open"}))
    both = hub.subscribe(ClientFilter(types={"open", "syscall"}))
    fake.push(KINDS)
    assert hub.pump() == len(KINDS)
    want = [orjson.dumps(r) for r in fake.rows]
    got = every.take()
    assert len(got) == 1 and isinstance(got[0], View) and got[0].block.type == MIXED
    assert lines(got) == want
    assert lines(opens.take()) == [orjson.dumps(r) for r in fake.rows if r["type"] == "open"]
    assert lines(both.take()) == want
    assert hub.stats.produced["open"] == KINDS.count(0)
    assert hub.stats.produced["syscall"] == KINDS.count(1)


def test_field_and_type_filters_together(fake: MixedSession, hub: Hub) -> None:
    fake.push(KINDS)
    pid = fake.rows[3]["pid"]
    s = hub.subscribe(ClientFilter(types={"syscall"}, pid=pid))
    hub.pump()
    want = [orjson.dumps(r) for r in fake.rows if r["type"] == "syscall" and r["pid"] == pid]
    assert lines(s.take()) == want


def test_sse_and_by_type(fake: MixedSession, hub: Hub) -> None:
    s = hub.subscribe(ClientFilter())
    fake.push(KINDS)
    hub.pump()
    (view,) = s.take()
    assert isinstance(view, View)
    want = b"".join(
        b"id: %d\nevent: %s\ndata: %s\n\n" % (r["seq"], r["type"].encode(), orjson.dumps(r))
        for r in fake.rows
    )
    assert view.sse() == want
    parts = view.by_type()
    assert set(parts) == {"open", "syscall"}
    assert lines([parts["open"]]) == [orjson.dumps(r) for r in fake.rows if r["type"] == "open"]
    assert view.type_counts() == {"open": KINDS.count(0), "syscall": KINDS.count(1)}
    assert parts["syscall"].type_counts() == {"syscall": KINDS.count(1)}


def test_one_type_in_a_batch_is_a_plain_block(fake: MixedSession, hub: Hub) -> None:
    s = hub.subscribe(ClientFilter())
    fake.push([1] * 5)
    hub.pump()
    (view,) = s.take()
    assert isinstance(view, View) and view.block.type == "syscall" and view.block.chunk is not None


def test_client_losses_are_counted_per_type(fake: MixedSession, hub: Hub) -> None:
    s = hub.subscribe(ClientFilter(), max_queue=10, policy="drop-newest")
    fake.push(KINDS)
    hub.pump()
    fake.push(KINDS)
    hub.pump()
    got = s.take()
    (loss,) = [e for e in got if isinstance(e, ClientLoss)]
    # The queue took the first 10 events (5 of each type), then dropped the rest.
    assert dict(loss.by_type) == {"open": 2 * KINDS.count(0) - 5, "syscall": 2 * KINDS.count(1) - 5}
    assert s.lost[("drop-newest", "open")] == 2 * KINDS.count(0) - 5
    assert lines(got) == [orjson.dumps(r) for r in fake.rows[:10]]


def test_resume_after_a_seq_inside_a_mixed_block(fake: MixedSession, hub: Hub) -> None:
    fake.push(KINDS)
    hub.pump()
    after = fake.rows[10]["seq"]
    s = hub.subscribe(ClientFilter(types={"open"}), resume_after=after)
    want = [orjson.dumps(r) for r in fake.rows if r["seq"] > after and r["type"] == "open"]
    assert lines(s.take()) == want


def test_encoder_parts_are_those_of_the_block() -> None:
    fake = MixedSession()
    fake.push(KINDS)
    (batch,) = fake.items
    assert isinstance(batch, Mixed)
    assert encode.ndjson_mixed(batch) == b"".join(orjson.dumps(r) + b"\n" for r in fake.rows)


def test_export_splits_a_mixed_block_by_type(fake: MixedSession) -> None:
    """One message per type, on its own subject, with every event of that
    type in seq order and an id that no other message of the block has."""
    from ringscope.export.message import block_messages
    from ringscope.hub import Block

    fake.push(KINDS)
    block = Block(fake.items[0])
    assert block.type == MIXED
    messages = block_messages(block, "h1", "run")
    assert len(messages) == 2 and len({m.msg_id for m in messages}) == 2
    assert sum(m.count for m in messages) == len(KINDS)
    for m in messages:
        rows = [orjson.loads(line) for line in m.payload.splitlines()]
        assert all(r["type"] == m.type_name for r in rows) and len(rows) == m.count
        assert m.subject.startswith("ringscope.h1.") and m.msg_id == f"h1:run:{rows[0]['seq']}"
        assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    by_seq = sorted(
        (r for m in messages for r in map(orjson.loads, m.payload.splitlines())), key=lambda r: r["seq"]
    )
    assert by_seq == fake.rows
