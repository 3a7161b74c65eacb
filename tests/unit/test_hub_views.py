"""A client's view of a shared block: the lines it selected, cut out of the
block's one encoding (one slice per run of consecutive events)."""

from __future__ import annotations

import numpy as np

from ringscope.btf import Btf
from ringscope.events.decode import Decoder
from ringscope.events.records import Chunk
from ringscope.hub import Block, ClientFilter, View
from ringscope.objects import object_path
from ringscope.sources import EVENTS


def block(pids: list[int]) -> Block:
    spec = EVENTS["open"]
    decoder = Decoder([Btf.from_elf(object_path(spec.obj))], [spec])
    code, (layout, spec) = next(iter(decoder.by_code.items()))
    recs = np.zeros(len(pids), layout.ring_dtype(layout.record_size))
    recs["type"] = code
    recs["pid"] = pids
    recs["path"] = [b'/tmp/"x"\n%d' % i for i in range(len(pids))]  # escaped quotes and newlines
    return Block(Chunk(layout, spec, 1000, recs))


def test_partial_views_are_the_selected_lines() -> None:
    b = block([1, 2, 2, 1, 1, 1, 2, 1])
    lines = b.ndjson().splitlines(keepends=True)
    for idx in ([0], [7], [1, 2], [0, 3, 4, 5, 7], [0, 2, 4, 6], list(range(8)), []):
        view = View(b, np.array(idx, dtype=np.intp))
        assert view.ndjson() == b"".join(lines[i] for i in idx)
    assert View(b).ndjson() is b.ndjson()  # the whole block: the shared bytes themselves


def test_a_filter_that_keeps_every_event_selects_the_whole_block() -> None:
    def select(pid: int, pids: list[int]) -> list[int] | None:
        chunk = block(pids).chunk
        assert chunk is not None
        idx = ClientFilter(pid=pid).select(chunk)
        return None if idx is None else idx.tolist()

    assert select(5, [5, 5, 5]) is None
    assert select(6, [5, 5, 5]) == []
    assert select(5, [5, 6, 5]) == [0, 2]
