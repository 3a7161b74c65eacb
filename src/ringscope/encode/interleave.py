"""Mixed batches -> bytes in stream order, encoded once per type.

Each part of a Mixed batch (events/mixed.py) is encoded by the columnar
encoder as one NUL-padded row per event, exactly the rows its single-type
encoding would compact; the rows of every part are scattered to their
events' positions in one matrix and the padding deleted once. So each line
is byte for byte what ndjson()/text() make of the same event, the lines
come in seq order, and the only per-batch extra is one strided copy.
Pure functions: thread-safe.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..events.mixed import Mixed
from ..events.records import Chunk
from .json import ndjson_lines, sse_lines
from .text import text_lines

__all__ = ["interleave", "ndjson_mixed", "sse_mixed", "text_mixed"]


def interleave(batch: Mixed, lines: Callable[[Chunk], np.ndarray]) -> bytes:
    """`lines` of each part, put back in stream order."""
    if not batch.count:
        return b""
    if len(batch.parts) == 1:  # one type: its lines are in order already, no scatter
        blob = lines(batch.parts[0]).tobytes()
        return blob.translate(None, b"\0") if b"\0" in blob else blob
    made = [(batch.positions(part), lines(part)) for part in batch.parts]
    width = max(m.shape[1] for _, m in made)
    out = np.zeros((batch.count, width), np.uint8)
    for pos, m in made:
        out[pos, : m.shape[1]] = m
    return out.tobytes().translate(None, b"\0")


def ndjson_mixed(batch: Mixed) -> bytes:
    """Every event of `batch` as one JSON object per line, in seq order."""
    return interleave(batch, ndjson_lines)


def sse_mixed(batch: Mixed) -> bytes:
    """Every event of `batch` as an SSE message, in seq order."""
    return interleave(batch, sse_lines)


def text_mixed(batch: Mixed) -> bytes:
    """Every event of `batch` as a text line, in seq order."""
    return interleave(batch, text_lines)
