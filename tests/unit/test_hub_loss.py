"""Loss by reason, replay gaps, names shared by a kernel type code and the
hub's Prometheus-shaped totals, at the hub's one seam (the fake session of
test_hub.py: real Chunks, no kernel)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from ringscope.events.records import Chunk, Lost
from ringscope.hub import REASONS, ClientFilter, ClientLoss, Hub, Replay, View
from tests.unit.test_hub import FakeSession, losses, seqs


@pytest.fixture
def fake() -> FakeSession:
    return FakeSession()


@pytest.fixture
def hub(fake: FakeSession) -> Hub:
    return Hub(fake, {"open": fake.code}, -1, replay=100)


def rows(entries: list[object]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for e in entries:
        if isinstance(e, View):
            out += [json.loads(line) for line in e.ndjson().splitlines()]
        elif isinstance(e, ClientLoss):
            out.append(e.row())
    return out


def named(chunk: Chunk, name: str) -> Chunk:
    """`chunk` as events of another type name sharing its code."""
    chunk.spec = dataclasses.replace(chunk.spec, name=name)
    return chunk


def two_types(fake: FakeSession) -> Hub:
    return Hub(fake, {"open": fake.code, "other": fake.code}, -1, replay=20)


def test_a_gap_counts_only_the_types_the_client_wants(fake: FakeSession) -> None:
    hub = two_types(fake)
    for _ in range(10):
        fake.chunk(5)
        named(fake.chunk(3), "other")
        hub.pump()
    s = hub.subscribe(ClientFilter(types=frozenset({"other"})), resume_after=9)
    (gap,) = losses(s.take())
    # Window: the newest 20+ events (seq >= 56); the gap is seqs 10..55, of
    # which "other" holds 13..15, 21..23, ... : 6 runs of 3, minus none.
    assert (gap.first_seq, gap.last_seq) == (10, hub.replay.oldest_seq - 1)
    expect = sum(1 for seq in range(10, hub.replay.oldest_seq) if seq % 8 >= 5)
    assert gap.exact and gap.count == expect and dict(gap.by_type) == {"other": expect}
    assert s.lost_by_reason() == {"replay-gap": expect} and s.dropped == 0


def test_a_gap_under_a_row_filter_has_an_unknown_count(fake: FakeSession, hub: Hub) -> None:
    for _ in range(30):
        fake.chunk(10)
        hub.pump()
    s = hub.subscribe(ClientFilter(pid=100), resume_after=4)
    (row,) = [r for r in rows(s.take()) if r["type"] == "lost"]
    assert row["reason"] == "replay-gap" and row["count"] is None and "filter" in str(row["note"])
    assert s.lost_total == 0 and hub.stats.replay_gaps_unknown == 1
    assert hub.status()["replay_gaps_unknown"] == 1


def test_a_gap_hands_on_the_kernel_losses_inside_it(fake: FakeSession, hub: Hub) -> None:
    fake.chunk(10)
    fake.items.append(Lost(fake.decoder.take_seq(), "kernel", 7, 0, {"by_type": {"open": 7}}))
    fake.chunk(10)
    fake.items.append(Lost(fake.decoder.take_seq(), "kernel", 2, 0, {"by_type": {"open": 2}}))
    for _ in range(20):
        fake.chunk(10)
    hub.pump()
    s = hub.subscribe(ClientFilter(), resume_after=0)
    got = rows(s.take())
    kernel = [r for r in got if r["type"] == "lost" and r["stage"] == "kernel"]
    assert [r["count"] for r in kernel] == [9] and kernel[0]["by_type"] == {"open": 9}
    gap = next(r for r in got if r["type"] == "lost" and r["stage"] == "client")
    assert gap["count"] == int(gap["last_seq"]) - 1 + 1 - 2  # two of its seqs were loss records


def test_a_resume_from_another_stream_is_an_unknown_gap(fake: FakeSession, hub: Hub) -> None:
    fake.chunk(3)
    hub.pump()
    s = hub.subscribe(ClientFilter(), resume_after=1000)
    (loss,) = losses(s.take())
    assert not loss.exact and "beyond this stream" in str(loss.note) and s.lost_total == 0


def test_a_gap_older_than_the_summaries_is_unknown(fake: FakeSession, hub: Hub) -> None:
    replay = hub.replay = Replay(10, summaries=2)
    for _ in range(10):
        fake.chunk(10)
        hub.pump()
    gap = replay.gap(5, ClientFilter())
    assert gap is not None and not gap.loss.exact and "older" in str(gap.loss.note)
    assert replay.gap(replay.oldest_seq - 1, ClientFilter()) is None


def test_drop_newest_counts_by_reason_and_type(fake: FakeSession, hub: Hub) -> None:
    s = hub.subscribe(ClientFilter(), max_queue=4, policy="drop-newest")
    fake.chunk(10)
    hub.pump()
    row = rows(s.take())[-1]
    assert (row["reason"], row["count"], row["by_type"]) == ("drop-newest", 6, {"open": 6})
    assert s.lost == {("drop-newest", "open"): 6}


def test_cut_counts_queued_and_inflight_under_its_reason(fake: FakeSession, hub: Hub) -> None:
    s = hub.subscribe(ClientFilter())
    fake.chunk(5)
    hub.pump()
    s.take()  # being written when the send times out
    fake.chunk(3)
    hub.pump()
    s.cut("send-timeout")
    assert (s.depth, s.sending, s.closed) == (0, 0, "send-timeout")
    assert s.lost_by_reason() == {"send-timeout": 8} and s.dropped == 8
    (final,) = s.final_losses()
    assert (final.reason, final.count) == ("send-timeout", 8) and s.final_losses() == []
    hub.unsubscribe(s)  # nothing more to lose
    assert hub.status()["lost"]["client"]["send-timeout"] == 8


def test_limit_ends_with_the_loss_it_did_not_tell(fake: FakeSession, hub: Hub) -> None:
    s = hub.subscribe(ClientFilter(), max_queue=4, policy="drop-newest", limit=2)
    fake.chunk(10)
    hub.pump()
    got = s.take()
    assert seqs(got) == [0, 1] and s.closed == "limit"
    (final,) = s.final_losses()
    assert final.reason == "drop-newest" and final.row()["count"] == 6 and "first_seq" not in final.row()


def test_kernel_drops_are_named_for_their_event_when_it_has_its_code_alone(fake: FakeSession) -> None:
    hub = Hub(fake, {"tracepoint:sched:sched_switch": fake.code}, -1,
              drop_names={"tracepoint": "tracepoint:sched:sched_switch"})  # fmt: skip
    s = hub.subscribe(ClientFilter())
    fake.items.append(Lost(fake.decoder.take_seq(), "kernel", 4, 0, {"by_type": {"tracepoint": 4}}))
    hub.pump()
    (row,) = rows(s.take())
    assert row["by_type"] == {"tracepoint:sched:sched_switch": 4}
    assert hub.kernel_drops() == {"tracepoint:sched:sched_switch": 0}  # the fake's counters


def test_types_sharing_a_code_are_selected_by_their_own_name(fake: FakeSession) -> None:
    hub = two_types(fake)
    s = hub.subscribe(ClientFilter(types=frozenset({"other"})))
    assert fake.filters[-1][1] == 1 << fake.code  # the shared code is on in the kernel
    assert hub.collected() == {"open", "other"}
    fake.chunk(2)
    named(fake.chunk(3), "other")
    hub.pump()
    assert seqs(s.take()) == [2, 3, 4]
    assert hub.produced == {"open": 2, "other": 3}


def test_totals_are_there_from_the_start_and_never_go_down(fake: FakeSession, hub: Hub) -> None:
    lost = hub.client_lost()
    assert set(lost) == {(r, "open") for r in REASONS} and not any(lost.values())
    assert hub.produced == {"open": 0} and hub.delivered == {"open": 0}
    s = hub.subscribe(ClientFilter(), max_queue=2)
    sizes = [3, 1, 100, 5000]
    for n in sizes:
        fake.chunk(n)
        hub.pump()
    hub.pump()  # an empty drain is not a batch
    before = hub.client_lost()[("drop-oldest", "open")]
    hub.unsubscribe(s)
    after = hub.client_lost()
    assert after[("drop-oldest", "open")] == before > 0 and after[("departed", "open")] == 2
    h = hub.stats.batches
    buckets = h.buckets()
    assert h.count == len(sizes) and h.sum == sum(sizes) and buckets[-1] == ("+Inf", len(sizes))
    assert [c for _, c in buckets] == sorted(c for _, c in buckets)
    assert dict(buckets)["4"] == 2 and dict(buckets)["4096"] == 3


def test_events_queued_past_the_limit_are_no_loss(fake: FakeSession, hub: Hub) -> None:
    s = hub.subscribe(ClientFilter(), limit=3)
    fake.chunk(3)
    fake.chunk(4)
    hub.pump()
    hub.note_delivered(s, s.take())
    assert s.closed == "limit" and s.depth == 0
    hub.unsubscribe(s)
    assert (s.matched, s.delivered, s.lost_total) == (3, 3, 0)
