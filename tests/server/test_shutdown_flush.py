"""Stopping the hub hands on what is still in the ring (and, with the perf
buffer, in its reorder window) before the streams end: nothing triggered
before shutdown is lost without a trace."""

from __future__ import annotations

import os

import orjson
import pytest

from ringscope.hub import Hub, View
from ringscope.server.params import ClientFilter
from tests.server.conftest import open_session, touch_paths


@pytest.mark.parametrize("transport", ["ringbuf", "perfbuf"])
async def test_stop_flushes_pending_events(transport: str) -> None:
    with open_session(transport=transport) as session:
        hub = Hub.for_session(session)
        hub.start()
        sub = hub.subscribe(ClientFilter(types=frozenset({"open"}), pid=os.getpid()))
        paths = touch_paths(3)
        await hub.stop()  # at once: the events are still in the ring or the merge window
        assert session.links == []  # detached before the final drain
        rows = [
            orjson.loads(line) for e in sub.take() if isinstance(e, View) for line in e.ndjson().splitlines()
        ]
    assert set(paths) <= {r.get("path") for r in rows}
    assert sub.closed == "shutdown"
