"""The tracepoint source's column gather (strings out of the raw record
tail): the sliced path (one offset in every row) and the gathered path make
exactly what slicing each row by hand makes, garbage past the end zeroed."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ringscope.sources.tracepoint import _gather


def by_hand(raw: np.ndarray, start: np.ndarray, stop: np.ndarray) -> list[bytes]:
    return [bytes(raw[i, a:b]).split(b"\0", 1)[0] for i, (a, b) in enumerate(zip(start, stop, strict=True))]


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 40), st.integers(1, 80), st.booleans(), st.integers(0, 2**32 - 1))
def test_gather_is_each_row_sliced(n: int, width: int, same_start: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    # A column of a structured array: rows `width + 24` bytes apart, not contiguous.
    records = rng.integers(1, 256, (n, width + 24), dtype=np.uint8)
    raw = records[:, 8 : 8 + width]
    start = np.full(n, rng.integers(0, width)) if same_start else rng.integers(0, width, n)
    stop = np.minimum(start + rng.integers(-2, width, n), width)
    got = _gather(raw, start, stop)
    assert got.dtype.kind == "S" and len(got) == n
    assert [bytes(v) for v in got.tolist()] == by_hand(raw, start, np.maximum(stop, start))
    assert int(np.count_nonzero(records)) == records.size, "the gather wrote to the records"
