"""Chunks -> JSON: NDJSON lines and SSE messages, columnar.

For every event, the bytes are exactly what `orjson.dumps(row)` makes of the
matching `chunk.rows()` dict (same keys, order and values): the tests hold
the encoder to that. The per-type touch-up is `EventSpec.finish_columns`,
which works on whole columns. A spec with a `finish` but no
`finish_columns` is encoded from its rows (one orjson call per chunk), a
slower path that every built-in event avoids.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from ..events.records import Chunk
from ..events.spec import Column, Columns, IntLists, Lookup, Nullable
from .columns import (
    Part,
    assemble,
    cstrings,
    hex_bytes,
    int_lists,
    ints,
    json_default,
    json_value,
    lay_out,
    lookup,
    matrix,
    same_cstring,
)

__all__ = ["encode_rows", "json_parts", "ndjson", "ndjson_lines", "row_json", "sse", "sse_lines"]


def row_json(row: dict[str, Any]) -> bytes:
    """One row (a loss record, a notice) as JSON, without newline."""
    return orjson.dumps(row, default=json_default)


def encode_rows(rows: list[dict[str, Any]]) -> bytes:
    """NDJSON (one object per line, newline-terminated) for rows that all
    start with "seq".

    One orjson call for them all: per-call overhead dominates for small
    objects (a CPUID-trapping feature check in this VM makes it ~2 us). The
    array is turned into lines by replacing `},{"seq":` with `}\\n{"seq":`,
    which is unambiguous: a quote inside a JSON string is always escaped,
    so that byte sequence can only occur between two top-level rows."""
    if not rows:
        return b""
    blob = orjson.dumps(rows, default=json_default)
    return blob[1:-1].replace(b'},{"seq":', b'}\n{"seq":') + b"\n"


def json_parts(chunk: Chunk) -> list[Part] | None:
    """The parts of each event's JSON object (no newline), or None for a
    spec that has only a row touch-up (see encode_rows)."""
    spec = chunk.spec
    if spec.finish is not None and spec.finish_columns is None:
        return None
    cols = chunk.columns()
    if spec.finish_columns is not None:
        spec.finish_columns(cols)
    return columns_parts(cols, len(chunk))


def columns_parts(cols: Columns, n: int) -> list[Part]:
    parts: list[Part] = []
    sep = b"{"
    for key, col in cols.items():
        parts.append(sep + orjson.dumps(key) + b":")
        parts += _render(col, n)
        sep = b","
    parts.append(b"}")
    return parts


def ndjson(chunk: Chunk) -> bytes:
    """Every event of `chunk` as one JSON object per line."""
    n = len(chunk)
    if n == 0:
        return b""
    parts = json_parts(chunk)
    if parts is None:
        return encode_rows(chunk.rows())
    return assemble([*parts, b"\n"], n)


def ndjson_lines(chunk: Chunk) -> np.ndarray:
    """ndjson(chunk) as one NUL-padded row per event (encode/interleave.py)."""
    parts = json_parts(chunk)
    if parts is None:
        return matrix([line + b"\n" for line in encode_rows(chunk.rows())[:-1].split(b"\n")])
    return lay_out([*parts, b"\n"], len(chunk))[0]


def sse(chunk: Chunk) -> bytes:
    """Every event of `chunk` as one SSE message: `id:` is its seq (so
    Last-Event-ID resumes after it), `event:` its type, `data:` its JSON."""
    n = len(chunk)
    if n == 0:
        return b""
    return assemble(_sse_parts(chunk), n)


def sse_lines(chunk: Chunk) -> np.ndarray:
    """sse(chunk) as one NUL-padded row per event (encode/interleave.py)."""
    return lay_out(_sse_parts(chunk), len(chunk))[0]


def _sse_parts(chunk: Chunk) -> list[Part]:
    head: list[Part] = [b"id: ", *ints(chunk.seq_column())]
    head.append(b"\nevent: " + chunk.spec.name.encode() + b"\ndata: ")
    parts = json_parts(chunk)
    if parts is None:
        lines = encode_rows(chunk.rows())[:-1].split(b"\n")
        parts = [matrix(lines)]
    return [*head, *parts, b"\n\n"]


def _render(col: Column, n: int) -> list[Part]:
    if isinstance(col, Lookup):
        return [lookup(col.codes, [json_value(v) for v in col.values])]
    if isinstance(col, IntLists):
        return [b"[", *int_lists(col.values), b"]"]
    if isinstance(col, Nullable):
        return [_nullable(col, n)]
    if isinstance(col, list):
        return [matrix([json_value(v) for v in col])]
    if col.ndim == 2:
        return [b'"', hex_bytes(col, n), b'"']
    kind = col.dtype.kind
    if kind == "S":
        one = same_cstring(col, n)
        if one is not None:
            return [json_value(one.decode(errors="replace"))]
        m, _ = cstrings(col, n)
        return [b'"', m, b'"']
    if kind in "iu":
        return ints(col)
    return [matrix([json_value(v) for v in col.tolist()])]


def _nullable(col: Nullable, n: int) -> np.ndarray:
    """Quoted strings, or `null` where absent, as one matrix."""
    m, _ = cstrings(col.values, n)
    width = m.shape[1] + 2
    out = np.zeros((n, max(width, 4)), np.uint8)
    out[:, 0] = ord('"')
    out[:, 1 : 1 + m.shape[1]] = m
    out[:, width - 1] = ord('"')
    absent = ~col.present.astype(bool)
    out[absent] = 0
    out[absent, :4] = np.frombuffer(b"null", np.uint8)
    return out
