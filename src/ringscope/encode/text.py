"""Chunks -> the text format of `ringscope trace`, columnar: one line per
event, aligned for a terminal and safe to print.

    TIME(s)        CPU COMM             PID     TID     EVENT        DETAILS
    1623.761184      1 sh               22493   22493   exec         ppid=22489 filename=/usr/bin/sh ...

TIME is seconds.microseconds of the kernel's CLOCK_MONOTONIC, truncated as
perf script does. DETAILS are the event's own fields as key=value. A value
is written bare when it is a non-empty run of printable characters without
spaces, quotes or backslashes; otherwise it is quoted and escaped as a JSON
string, with DEL and the C1 controls escaped too, so that no file name or
command name can split a line or send a terminal escape sequence. Lists are
joined with spaces first (argv="sh -c true"); None is `-`.

`text_row()` formats one row dict the same way: loss records use it, and
the tests hold the columnar path to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..events.records import Chunk
from ..events.spec import Column, IntLists, Lookup, Nullable
from .columns import (
    Part,
    assemble,
    cstrings,
    digits,
    hex_bytes,
    int_lists,
    ints,
    lay_out,
    lookup,
    matrix,
    same_cstring,
)

__all__ = ["HEAD", "text", "text_header", "text_lines", "text_row", "text_value"]

HEAD = ("seq", "ts_ns", "type", "cpu", "pid", "tid", "uid", "comm", "cgroup_id")  # not in DETAILS
_WIDTHS = {"time": 14, "cpu": 3, "comm": 16, "pid": 7, "tid": 7, "type": 12}

# Bytes a bare value may hold: printable ASCII but space, quote and backslash.
PLAIN_TEXT = np.zeros(256, bool)
PLAIN_TEXT[0x21:0x7F] = True
PLAIN_TEXT[[0, ord('"'), ord("\\")]] = [True, False, False]
_SHORT = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def text_header() -> str:
    w = _WIDTHS
    return (f"{'TIME(s)':>{w['time']}} {'CPU':>{w['cpu']}} {'COMM':<{w['comm']}} {'PID':>{w['pid']}} "
            f"{'TID':>{w['tid']}} {'EVENT':<{w['type']}} DETAILS")  # fmt: skip


def _bare(s: str) -> bool:
    return bool(s) and s.isprintable() and not any(c.isspace() or c in '"\\' for c in s)


def _escape(c: str) -> str:
    short = _SHORT.get(c)
    if short is not None:
        return short
    if c.isprintable():  # spaces, and every printable character beyond ASCII
        return c
    code = ord(c)  # controls, DEL, C1, format characters such as bidi overrides
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def text_str(s: str) -> bytes:
    """A string value: bare when it is a non-empty run of printable
    characters without spaces, quotes or backslashes; else quoted, with
    every character that is not printable escaped as in JSON."""
    if _bare(s):
        return s.encode()
    return ('"' + "".join(_escape(c) for c in s) + '"').encode()


def text_value(v: Any) -> bytes:
    """One value of a row as the text format writes it."""
    if v is None:
        return b"-"
    if isinstance(v, bool):
        return b"true" if v else b"false"
    if isinstance(v, int):
        return b"%d" % v
    if isinstance(v, bytes):
        return v.hex().encode()
    if isinstance(v, list):
        return text_str(" ".join(str(x) for x in v))
    if isinstance(v, dict):
        return text_str(",".join(f"{k}:{x}" for k, x in v.items()))
    return text_str(str(v))


def _time(ts_ns: int) -> str:
    return f"{ts_ns // 1_000_000_000}.{ts_ns // 1000 % 1_000_000:06d}".rjust(_WIDTHS["time"])


def text_row(row: dict[str, Any]) -> bytes:
    """One row as a text line (with its newline)."""
    if row["type"] == "lost":
        extra = b" ".join(
            k.encode() + b"=" + text_value(v)
            for k, v in row.items()
            if k not in ("seq", "ts_ns", "type", "stage", "count")
        )
        return (
            f"{_time(row['ts_ns'])} --- LOST {row['count']} events at the {row['stage']} stage ".encode()
            + extra
            + b"\n"
        )
    w = _WIDTHS
    comm = text_str(row["comm"]).ljust(w["comm"])  # padded in bytes, as the columnar path does
    time_cpu = f"{_time(row['ts_ns'])} {row['cpu']:>{w['cpu']}} ".encode()
    rest = f" {row['pid']:>{w['pid']}} {row['tid']:>{w['tid']}} {row['type']:<{w['type']}} ".encode()
    details = b" ".join(k.encode() + b"=" + text_value(v) for k, v in row.items() if k not in HEAD)
    return time_cpu + comm + rest + details + b"\n"


def text(chunk: Chunk) -> bytes:
    """Every event of `chunk` as a text line (what text_row makes of its rows)."""
    n = len(chunk)
    if n == 0:
        return b""
    parts = _parts(chunk)
    if parts is None:
        return b"".join(text_row(r) for r in chunk.rows())
    return assemble(parts, n)


def text_lines(chunk: Chunk) -> np.ndarray:
    """text(chunk) as one NUL-padded row per event (encode/interleave.py)."""
    parts = _parts(chunk)
    if parts is None:
        return matrix([text_row(r) for r in chunk.rows()])
    return lay_out(parts, len(chunk))[0]


def _parts(chunk: Chunk) -> list[Part] | None:
    """The parts of each event's line, or None for a spec that has only a
    row touch-up."""
    n = len(chunk)
    spec = chunk.spec
    if spec.finish is not None and spec.finish_columns is None:
        return None
    cols = chunk.columns()
    if spec.finish_columns is not None:
        spec.finish_columns(cols)
    w = _WIDTHS
    parts: list[Part] = [*_time_parts(_array(cols["ts_ns"])), b" "]
    parts += [_aligned(_array(cols["cpu"]), w["cpu"]), b" ", _comm(_array(cols["comm"]), n), b" "]
    parts += [_aligned(_array(cols["pid"]), w["pid"]), b" ", _aligned(_array(cols["tid"]), w["tid"]), b" "]
    parts.append(f"{spec.name:<{w['type']}} ".encode())
    sep = b""
    for key, col in cols.items():
        if key in HEAD:
            continue
        parts.append(sep + key.encode() + b"=")
        parts += _render(col, n)
        sep = b" "
    parts.append(b"\n")
    return parts


def _array(col: Column) -> np.ndarray:
    assert isinstance(col, np.ndarray), "a header column is a numpy array"
    return col


def _spaced(m: np.ndarray, width: int, *, right: bool) -> np.ndarray:
    """Pad each row with spaces to `width` columns, as str.rjust/ljust do one
    row at a time: a row that is already wider keeps its width (the rest of
    the padding stays NUL, which assemble() deletes)."""
    w = m.shape[1]
    if w < width:
        m = np.pad(m, ((0, 0), (width - w, 0) if right else (0, width - w)))
        w = width
    length = np.count_nonzero(m, axis=1)[:, None]
    j = np.arange(w)
    # Right: the content ends at w, spaces go just before it, back to
    # w - width. Left: the content starts at 0, spaces go from its end to width.
    space = (j >= w - width) & (j < w - length) if right else (j >= length) & (j < width)
    return np.where(space, np.uint8(ord(" ")), m).astype(np.uint8)


def _aligned(a: np.ndarray, width: int) -> Part:
    """Unsigned integers right-aligned in `width` columns (wider if needed)."""
    mag = a.astype(np.uint64, copy=False)
    hi = int(mag.max())
    if hi == int(mag.min()):  # one value in the chunk (a flood's pid): a constant
        return b"%*d" % (width, hi)
    return _spaced(digits(mag, hi), width, right=True)


def _time_parts(ts: np.ndarray) -> list[Part]:
    ts = ts.astype(np.uint64, copy=False)
    secs = ts // np.uint64(1_000_000_000)
    usecs = ts // np.uint64(1000) % np.uint64(1_000_000)
    return [_aligned(secs, _WIDTHS["time"] - 7), b".", digits(usecs, 999_999, pad=6)]


def _comm(col: np.ndarray, n: int) -> Part:
    """The command name, left-aligned."""
    one = same_cstring(col, n)
    if one is not None:
        return text_str(one.decode(errors="replace")).ljust(_WIDTHS["comm"])
    return _spaced(_strings(col, n), _WIDTHS["comm"], right=False)


def _strings(col: Column, n: int) -> np.ndarray:
    """C strings: bare where safe, quoted and escaped where not."""
    assert isinstance(col, np.ndarray)
    m, _ = cstrings(col, n, plain=PLAIN_TEXT, escape=text_str, empty_is_plain=False)
    return m


def _render(col: Column, n: int) -> list[Part]:
    if isinstance(col, Lookup):
        return [lookup(col.codes, [text_value(v) for v in col.values])]
    if isinstance(col, IntLists):
        if col.values.shape[1] == 0:
            return [b'""']
        if col.values.shape[1] == 1:
            return ints(col.values[:, 0])
        return [b'"', *int_lists(col.values, b" "), b'"']
    if isinstance(col, Nullable):
        m = _strings(col.values, n)
        absent = ~col.present.astype(bool)
        if absent.any():
            m = np.pad(m, ((0, 0), (0, max(0, 1 - m.shape[1]))))
            m[absent] = 0
            m[absent, 0] = ord("-")
        return [m]
    if isinstance(col, list):
        return [matrix([text_value(v) for v in col])]
    if col.ndim == 2:
        return [hex_bytes(col, n)]
    kind = col.dtype.kind
    if kind == "S":
        one = same_cstring(col, n)
        if one is not None:
            return [text_str(one.decode(errors="replace"))]
        return [_strings(col, n)]
    if kind in "iu":
        return ints(col)
    return [matrix([text_value(v) for v in col.tolist()])]
