"""The pipeline under the CLI, on the stored captures and with no
privilege: Session.replay through decode, the encoders and the hub."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ringscope import encode
from ringscope.events.records import Chunk, Item, Lost
from ringscope.hub import ClientFilter, Hub, View
from ringscope.session import Session
from tests.replay.conftest import CAPTURES, capture, live_ndjson, rows


def _all_items(s: Session) -> list[Item]:
    items: list[Item] = []
    while True:
        done = s.exhausted
        items += s.poll(0, flush=done)
        if done:
            return items


@pytest.mark.parametrize("name", CAPTURES)
def test_columnar_encoders_agree_with_rows_for_every_event_type(name: str) -> None:
    with Session.replay(capture(name)) as s:
        items = _all_items(s)
    chunks = [i for i in items if isinstance(i, Chunk)]
    assert chunks
    for c in chunks:
        assert encode.ndjson(c) == encode.encode_rows(c.rows()), c.spec.name
        sse = encode.sse(c).decode().split("\n\n")[:-1]
        assert [json.loads(m.split("data: ", 1)[1]) for m in sse] == c.rows()
        assert [int(m.split("\n", 1)[0].removeprefix("id: ")) for m in sse] == [r["seq"] for r in c.rows()]
        assert len(encode.text(c).splitlines()) == len(c)


@pytest.mark.parametrize("name", CAPTURES)
def test_the_python_api_reads_a_capture_as_it_read_the_kernel(name: str) -> None:
    with Session.replay(capture(name)) as s:
        got = []
        while True:
            done = s.exhausted
            got += [r for item in s.poll(0, flush=done)
                    for r in (item.rows() if isinstance(item, Chunk) else [item.row()])]  # fmt: skip
            if done:
                break
        assert s.delivered == sum(r["type"] != "lost" for r in got)
    assert json.loads(json.dumps(got, default=lambda b: b.hex())) == rows(live_ndjson(name))


def _hub_views(name: str, filters: list[ClientFilter]) -> list[list[dict[str, Any]]]:
    """Every subscriber's stream through a Hub over the replayed capture."""
    with Session.replay(capture(name)) as s:
        hub = Hub.for_session(s, replay=0)
        subs = [hub.subscribe(f) for f in filters]
        while not s.exhausted:
            hub.pump()
        hub.pump(flush=True)
        out = []
        for sub in subs:
            lines: list[dict[str, Any]] = []
            for e in sub.take():
                assert isinstance(e, View)
                lines += rows(e.ndjson())
            out.append(lines)
        return out


def test_the_hub_filters_a_capture_per_client() -> None:
    live = rows(live_ndjson("static"))
    exec_ = next(r for r in live if r["type"] == "exec" and r["comm"] == "python3")
    filters = [ClientFilter(), ClientFilter(types=frozenset({"open"})), ClientFilter(pid=exec_["pid"]),
               ClientFilter(comm="true")]  # fmt: skip
    everything, opens, pid, true = _hub_views("static", filters)
    lost = [r for r in live if r["type"] == "lost"]
    assert everything == live
    assert opens == [r for r in live if r["type"] in ("open", "lost")]
    assert pid == [r for r in live if r["type"] == "lost" or r["pid"] == exec_["pid"]]
    assert true == [r for r in live if r["type"] == "lost" or r["comm"] == "true"]
    assert {r["type"] for r in true} >= {"exec", "exit", "lost"} and len(lost) == 1


def test_a_replay_holds_while_nobody_wants_anything() -> None:
    with Session.replay(capture("syscall")) as s:
        hub = Hub.for_session(s, replay=0)  # no subscriber: an empty type mask
        assert all(hub.pump() == 0 for _ in range(5)) and not s.exhausted
        sub = hub.subscribe(ClientFilter())
        while not s.exhausted:
            hub.pump()
        hub.pump(flush=True)
        assert sum(len(e) for e in sub.take() if isinstance(e, View) and e.is_event) == 30


def test_kernel_loss_records_come_back_in_their_places() -> None:
    live = rows(live_ndjson("lost"))
    with Session.replay(capture("lost")) as s:
        items = _all_items(s)
        lost = [i for i in items if isinstance(i, Lost)]
        assert [i.row() for i in lost] == [r for r in live if r["type"] == "lost"]
        assert s.lost["kernel"] == sum(r["count"] for r in live if r["type"] == "lost")
        assert s.kernel_drops() == {"open": s.lost["kernel"]}
