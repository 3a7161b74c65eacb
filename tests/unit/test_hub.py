"""The hub at its one seam: a fake session hands it real Chunks (layouts
from the built objects' BTF), so fan-out, policies, loss records, replay
and demand are checked without the kernel."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from ringscope.btf import Btf
from ringscope.encode import encode_rows
from ringscope.events.decode import Decoder
from ringscope.events.records import Chunk, Item, Lost
from ringscope.filters import Filter
from ringscope.hub import ClientFilter, ClientLoss, Hub, Subscriber, View
from ringscope.objects import object_path
from ringscope.sources import EVENTS


class FakeSession:
    def __init__(self) -> None:
        self.detached = False
        self.filter = Filter()
        self.drain_interval = 0.001
        self.lost = {"kernel": 0, "daemon": 0}
        self.items: list[Item] = []
        self.filters: list[tuple[Filter, int | None]] = []
        btf = Btf.from_elf(object_path("file"))
        self.decoder = Decoder([btf], [EVENTS["open"]])
        self.code, (self.layout, self.spec) = next(iter(self.decoder.by_code.items()))

    def poll(self, timeout: float | None = None, *, flush: bool = False, mixed: bool = False) -> list[Item]:
        items, self.items = self.items, []
        return items

    def set_filter(self, flt: Filter, type_mask: int | None = None) -> None:
        self.filters.append((flt, type_mask))

    def detach(self) -> None:
        self.detached = True

    def kernel_drops(self) -> dict[str, int]:
        return {}

    def ring_fill(self) -> float:
        return 0.0

    def chunk(self, n: int, pid: int = 100, path: bytes = b"/tmp/x") -> Chunk:
        recs = np.zeros(n, self.layout.ring_dtype(self.layout.record_size))
        recs["type"] = self.code
        recs["pid"] = pid
        recs["tid"] = pid
        recs["comm"] = b"prog"
        recs["path"] = path
        c = Chunk(self.layout, self.spec, self.decoder.next_seq, recs)
        self.decoder.next_seq += n
        self.items.append(c)
        return c


@pytest.fixture
def fake() -> FakeSession:
    return FakeSession()


@pytest.fixture
def hub(fake: FakeSession) -> Hub:
    return Hub(fake, {"open": fake.code}, -1, replay=100)


def seqs(entries: list[Any]) -> list[int]:
    out: list[int] = []
    for e in entries:
        if isinstance(e, View):
            out += [json.loads(line)["seq"] for line in e.ndjson().splitlines()]
    return out


def losses(entries: list[Any]) -> list[ClientLoss]:
    return [e for e in entries if isinstance(e, ClientLoss)]


def test_encode_rows_round_trips_hostile_strings() -> None:
    rows = [
        {"seq": 1, "type": "open", "path": '/a},{"seq":2,"x":"'},
        {"seq": 2, "type": "open", "path": 'q"\\\n\x01é'},
        {"seq": 3, "raw": b"\x00\xff"},
    ]
    blob = encode_rows(rows)
    assert blob.endswith(b"\n")
    lines = blob.splitlines()
    assert [json.loads(line) for line in lines] == [rows[0], rows[1], {"seq": 3, "raw": "00ff"}]


def test_big_chunks_become_bounded_blocks(fake: FakeSession, hub: Hub) -> None:
    from ringscope.hub import BLOCK_MAX

    s = hub.subscribe(ClientFilter())
    fake.chunk(BLOCK_MAX * 2 + 5)
    hub.pump()
    got = s.take()
    assert [len(v) for v in got] == [BLOCK_MAX, BLOCK_MAX, 5]  # type: ignore[arg-type]
    assert seqs(got) == list(range(BLOCK_MAX * 2 + 5))


def test_each_client_gets_only_its_events_and_bytes_are_shared(fake: FakeSession, hub: Hub) -> None:
    a = hub.subscribe(ClientFilter(pid=100))
    b = hub.subscribe(ClientFilter(pid=200))
    c = hub.subscribe(ClientFilter())
    fake.chunk(3, pid=100)
    fake.chunk(2, pid=200)
    hub.pump()
    assert seqs(a.take()) == [0, 1, 2]
    assert seqs(b.take()) == [3, 4]
    got = c.take()
    assert seqs(got) == [0, 1, 2, 3, 4]
    # A client without a row filter shares the block's bytes: the same object.
    d = hub.subscribe(ClientFilter())
    fake.chunk(2)
    hub.pump()
    vc, vd = c.take(), d.take()
    assert isinstance(vc[0], View) and isinstance(vd[0], View)
    assert vc[0].ndjson() is vd[0].ndjson()


def test_rows_filter_on_comm_tid_uid(fake: FakeSession, hub: Hub) -> None:
    s = hub.subscribe(ClientFilter(comm="prog", tid=7, uid=0))
    fake.chunk(2, pid=7)
    fake.chunk(2, pid=8)
    hub.pump()
    assert seqs(s.take()) == [0, 1]
    other = hub.subscribe(ClientFilter(comm="other"))
    fake.chunk(2)
    hub.pump()
    assert other.take() == []


def test_drop_oldest_reports_the_oldest_gap_first(fake: FakeSession, hub: Hub) -> None:
    s = hub.subscribe(ClientFilter(), max_queue=10, policy="drop-oldest")
    for _ in range(5):
        fake.chunk(5)
        hub.pump()
    got = s.take()
    (loss,) = losses(got)
    assert isinstance(got[0], ClientLoss)
    assert (loss.count, loss.first_seq, loss.last_seq) == (15, 0, 14)
    assert seqs(got) == list(range(15, 25))
    assert s.matched == s.delivered + s.dropped + s.depth + s.sending == 25


def test_drop_oldest_chunk_bigger_than_queue(fake: FakeSession, hub: Hub) -> None:
    s = hub.subscribe(ClientFilter(), max_queue=4, policy="drop-oldest")
    fake.chunk(10)
    hub.pump()
    got = s.take()
    assert (got[0].count, seqs(got)) == (6, [6, 7, 8, 9])  # type: ignore[union-attr]


def test_drop_newest_keeps_the_queue_and_reports_after_it(fake: FakeSession, hub: Hub) -> None:
    s = hub.subscribe(ClientFilter(), max_queue=10, policy="drop-newest")
    for _ in range(5):
        fake.chunk(5)
        hub.pump()
    got = s.take()
    assert seqs(got) == list(range(10))
    assert isinstance(got[-1], ClientLoss)
    assert (got[-1].count, got[-1].first_seq, got[-1].last_seq) == (15, 10, 24)


def test_disconnect_policy_ends_the_stream_with_a_loss(fake: FakeSession, hub: Hub) -> None:
    s = hub.subscribe(ClientFilter(), max_queue=10, policy="disconnect")
    fake.chunk(8)
    hub.pump()
    fake.chunk(8)
    hub.pump()
    assert s.closed == "overflow"
    got = s.take()
    assert [(x.reason, x.count, x.first_seq, x.last_seq) for x in losses(got)] == [("disconnect", 16, 0, 15)]
    assert s.drained_and_closed() and s.final_losses() == []
    assert s.lost_by_reason() == {"disconnect": 16} and s.dropped == 16


def test_kernel_loss_records_reach_every_client_and_survive_eviction(fake: FakeSession, hub: Hub) -> None:
    s = hub.subscribe(ClientFilter(pid=1), max_queue=2)
    fake.chunk(2, pid=1)
    fake.items.append(Lost(fake.decoder.take_seq(), "kernel", 7, 0, {"by_type": {"open": 7}}))
    fake.chunk(2, pid=1)
    hub.pump()
    rows = [json.loads(line) for e in s.take() if isinstance(e, View) for line in e.ndjson().splitlines()]
    assert [r["type"] for r in rows] == ["lost", "open", "open"]
    assert rows[0]["count"] == 7


def test_limit_trims_and_closes(fake: FakeSession, hub: Hub) -> None:
    s = hub.subscribe(ClientFilter(), limit=3)
    fake.chunk(5)
    hub.pump()
    got = s.take()
    assert seqs(got) == [0, 1, 2]
    assert s.closed == "limit" and s.drained_and_closed()
    hub.note_delivered(s, got)
    assert s.matched == s.delivered == 3


def test_events_count_as_delivered_only_once_written(fake: FakeSession, hub: Hub) -> None:
    s = hub.subscribe(ClientFilter())
    fake.chunk(3)
    fake.chunk(4)
    hub.pump()
    hub.note_delivered(s, s.take(3))  # written
    s.take(4)  # the write of these fails: the client is gone
    fake.chunk(2)
    hub.pump()  # still queued when it leaves
    assert (s.matched, s.delivered, s.lost_total, s.depth, s.sending) == (9, 3, 0, 2, 4)
    hub.unsubscribe(s)
    # The client left: what it had queued or in flight is lost, but it is no drop.
    assert (s.matched, s.delivered, s.lost_total, s.depth, s.sending) == (9, 3, 6, 0, 0)
    assert s.lost_by_reason() == {"departed": 6} and s.dropped == 0
    st = hub.status()
    assert hub.delivered["open"] == 3 and st["lost"]["client"]["departed"] == 6
    assert st["lost"]["client"]["drop-oldest"] == 0


def test_resume_replays_only_later_events(fake: FakeSession, hub: Hub) -> None:
    keep = hub.subscribe(ClientFilter())
    fake.chunk(5, pid=1)
    fake.chunk(5, pid=2)
    hub.pump()
    s = hub.subscribe(ClientFilter(pid=2), resume_after=6)
    assert seqs(s.take()) == [7, 8, 9]
    hub.unsubscribe(keep)


def test_resume_before_the_window_is_a_counted_gap(fake: FakeSession, hub: Hub) -> None:
    hub.subscribe(ClientFilter())
    for _ in range(30):
        fake.chunk(10)
        hub.pump()
    s = hub.subscribe(ClientFilter(), resume_after=4)
    got = s.take()
    loss = got[0]
    assert isinstance(loss, ClientLoss) and loss.reason == "replay-gap" and loss.first_seq == 5
    # Counted in events (its filter takes every event here), and no drop.
    assert loss.exact and loss.count == loss.last_seq - 4 == 195
    assert seqs(got)[0] == loss.last_seq + 1
    assert seqs(got)[-1] == 299
    assert s.lost_by_reason() == {"replay-gap": 195} and s.dropped == 0


def test_replay_zero_keeps_no_window(fake: FakeSession) -> None:
    hub = Hub(fake, {"open": fake.code}, -1, replay=0)
    hub.subscribe(ClientFilter())
    fake.chunk(5)
    hub.pump()
    s = hub.subscribe(ClientFilter(), resume_after=1)
    assert hub.status()["replay_window"]["events"] == 0 and seqs(s.take()) == []


def test_demand_drives_the_kernel_filter(fake: FakeSession, hub: Hub) -> None:
    bit = 1 << fake.code
    assert fake.filters[-1][1] == 0  # nobody listens: the kernel produces nothing
    a = hub.subscribe(ClientFilter(types=frozenset({"open"}), pid=42))
    assert fake.filters[-1] == (Filter(pid=42), bit)
    b = hub.subscribe(ClientFilter(pid=43, comm="x"))
    assert fake.filters[-1] == (Filter(), bit)
    hub.unsubscribe(a)
    assert fake.filters[-1] == (Filter(pid=43, comm="x"), bit)
    hub.unsubscribe(b)
    assert fake.filters[-1][1] == 0
    n = len(fake.filters)
    hub.update_demand()
    assert len(fake.filters) == n  # unchanged demand: no map write


def test_subscriber_counters_in_status(hub: Hub) -> None:
    s: Subscriber = hub.subscribe(ClientFilter(types=frozenset({"open"})), kind="sse", peer="127.0.0.1")
    st = hub.status()["clients"][0]
    assert st["id"] == s.id and st["filter"]["types"] == ["open"] and st["kind"] == "sse"


async def test_a_dead_reader_ends_every_stream(fake: FakeSession, hub: Hub) -> None:
    import asyncio
    import os

    r, w = os.pipe()
    try:
        hub.fd = r
        s = hub.subscribe(ClientFilter())

        def boom(timeout: float | None = None, *, flush: bool = False, mixed: bool = False) -> list[Item]:
            raise RuntimeError("ring gone")

        fake.poll = boom  # type: ignore[method-assign]
        hub.start()
        await asyncio.wait_for(s.wait(None), 2)
        assert s.closed == "reader failed: ring gone" and hub.error == s.closed
        await hub.stop()  # already reported: stopping does not raise again
    finally:
        os.close(r)
        os.close(w)


def test_ndjson_chunks_split_views_at_batch(fake: FakeSession, hub: Hub) -> None:
    from ringscope.server.render import ndjson_chunks

    s = hub.subscribe(ClientFilter())
    fake.chunk(5)
    fake.chunk(4)
    hub.pump()
    pieces = ndjson_chunks(s.take(), 3)
    assert [p.count(b"\n") for p in pieces] == [3, 3, 3]
    assert [json.loads(line)["seq"] for p in pieces for line in p.splitlines()] == list(range(9))


def test_notices_keep_their_place_and_survive_eviction(fake: FakeSession, hub: Hub) -> None:
    from ringscope.hub import Notice

    s = hub.subscribe(ClientFilter(), max_queue=4)
    fake.chunk(2)
    hub.pump()
    s.notify({"type": "subscribed"})
    fake.chunk(6)
    hub.pump()
    got = s.take()
    kinds = [type(e).__name__ for e in got]
    assert kinds.index("Notice") < kinds.index("View")  # the ack precedes the events after it
    assert seqs(got) == [4, 5, 6, 7] and isinstance(got[0], ClientLoss) and got[0].count == 4
    assert sum(isinstance(e, Notice) for e in got) == 1


def test_consecutive_kernel_losses_merge_for_a_client_that_reads_nothing(fake: FakeSession, hub: Hub) -> None:
    s = hub.subscribe(ClientFilter(pid=1))
    for _ in range(1000):
        fake.items.append(Lost(fake.decoder.take_seq(), "kernel", 3, 0, {"by_type": {"open": 3}}))
        hub.pump()
    assert len(s.queue) == 1
    fake.chunk(1, pid=1)
    fake.items.append(Lost(fake.decoder.take_seq(), "kernel", 2, 0, {"by_type": {"open": 2}}))
    hub.pump()
    rows = [json.loads(line) for e in s.take() if isinstance(e, View) for line in e.ndjson().splitlines()]
    assert [(r["type"], r.get("count")) for r in rows] == [("lost", 3000), ("open", None), ("lost", 2)]
    assert rows[0]["by_type"] == {"open": 3000} and rows[0]["first_seq"] == 0


def test_a_client_that_never_reads_its_acks_is_cut(hub: Hub) -> None:
    from ringscope.hub import MAX_NOTICES

    s = hub.subscribe(ClientFilter())
    for _ in range(MAX_NOTICES + 5):
        s.notify({"type": "subscribed"})
    assert len(s.queue) == MAX_NOTICES and s.closed == "too many unread control messages"
