"""Chunks -> NDJSON, a column at a time.

`encode_ndjson(chunk)` returns, for every event, exactly the bytes that
`orjson.dumps(row)` makes of the matching `chunk.rows()` dict (same keys,
order and values), one per line. Making those dicts costs ~2 us per event;
this costs a fraction of that, because the work is done per field:

- every field becomes a matrix of bytes with one row per event, padded with
  NUL to the widest value in the chunk (digits right-aligned, strings
  left-aligned); a field with one value in the whole chunk, the keys and
  the punctuation are constants, laid in once per chunk as a template;
- the rows of all fields side by side are the lines, padding included:
  deleting every NUL leaves the NDJSON. NUL never occurs in JSON text (in a
  string it is escaped as \\u0000), so it is unambiguous padding;
- integers are converted four digits at a time with a table lookup; when
  every value of a column shares its leading digits (timestamps, seq, pids
  of a flood) those are a constant and only the varying tail is converted;
- C strings are copied as bytes when they hold only characters that JSON
  leaves as they are; the few that need escaping (or are not ASCII) are
  decoded and escaped one by one, as `rows()` does;
- the per-type touch-up is `EventSpec.finish_columns`, which works on whole
  columns (Lookup: one conversion per distinct value).

Events whose spec has a `finish` but no `finish_columns` (the dynamic
sources) are encoded from `rows()` with orjson, as before.
"""

from __future__ import annotations

from json.encoder import encode_basestring
from typing import Any

import numpy as np
import orjson

from .records import Chunk
from .spec import Column, Lookup

__all__ = ["encode_ndjson", "encode_rows", "json_default"]

Part = bytes | np.ndarray  # a constant, or one row of bytes per event (NUL = padding)


def json_default(value: Any) -> Any:
    """orjson's `default` for what rows may hold besides JSON types."""
    if isinstance(value, bytes | bytearray):
        return value.hex()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode_rows(rows: list[dict[str, Any]]) -> bytes:
    """NDJSON (one object per line, newline-terminated) for rows that all
    start with "seq".

    One orjson call per chunk: per-call overhead dominates for small objects
    (a CPUID-trapping feature check in this VM makes it ~2 us). The array is
    turned into lines by replacing `},{"seq":` with
    `}\\n{"seq":` - which is unambiguous, because a quote inside a JSON
    string is always escaped, so that byte sequence can only occur between
    two top-level rows."""
    if not rows:
        return b""
    blob = orjson.dumps(rows, default=json_default)
    return blob[1:-1].replace(b'},{"seq":', b'}\n{"seq":') + b"\n"


def encode_ndjson(chunk: Chunk) -> bytes:
    """Every event of `chunk` as NDJSON, byte for byte what orjson makes of
    `chunk.rows()`. Thread-safe (nothing shared is written)."""
    spec = chunk.spec
    n = len(chunk)
    if n == 0:
        return b""
    if spec.finish is not None and spec.finish_columns is None:
        return encode_rows(chunk.rows())
    cols = chunk.columns()
    if spec.finish_columns is not None:
        spec.finish_columns(cols)
    parts: list[Part] = []
    sep = b"{"
    for key, col in cols.items():
        parts.append(sep + orjson.dumps(key) + b":")
        parts += _render(col, n)
        sep = b","
    parts.append(b"}\n")
    return _assemble(parts, n)


def _assemble(parts: list[Part], n: int) -> bytes:
    """Lay the parts side by side, n rows, and delete the padding."""
    template = bytearray()
    fields: dict[str, tuple[np.dtype, int]] = {}
    columns: dict[str, np.ndarray] = {}
    for p in parts:
        if isinstance(p, bytes):
            template += p
        elif p.shape[1]:
            # Each part goes in as one field of a record per line: one
            # strided copy per part, not one tiny copy per row.
            name = f"f{len(fields)}"
            fields[name] = (np.dtype(f"V{p.shape[1]}"), len(template))
            columns[name] = p
            template += bytes(p.shape[1])
    if not columns:
        return bytes(template) * n
    mat = np.empty((n, len(template)), np.uint8)
    mat[:] = np.frombuffer(template, np.uint8)
    lines = mat.view(np.dtype({"names": list(fields), "formats": [f for f, _ in fields.values()],
                               "offsets": [o for _, o in fields.values()], "itemsize": len(template)}))[:, 0]  # fmt: skip
    for name, p in columns.items():
        lines[name] = np.ascontiguousarray(p).view(fields[name][0])[:, 0]
    return mat.tobytes().replace(b"\0", b"")


# -- one column -> parts -----------------------------------------------------------


def _render(col: Column, n: int) -> list[Part]:
    if isinstance(col, Lookup):
        values = [_json(v) for v in col.values]
        if all(v == values[0] for v in values):
            return [values[0]]
        return [np.take(_matrix(values), col.codes, axis=0)]
    if isinstance(col, list):
        return [_matrix([_json(v) for v in col])]
    if col.ndim == 2:
        return _hex(col, n)
    kind = col.dtype.kind
    if kind == "S":
        return _cstrings(col, n)
    if kind in "iu":
        return _ints(col)
    return [_matrix([_json(v) for v in col.tolist()])]


def _json(v: Any) -> bytes:
    """orjson.dumps(v), without its per-call cost for the common types
    (encode_basestring escapes exactly as orjson does: the tests check every
    code point)."""
    if v is None:
        return b"null"
    if isinstance(v, str):
        return _jstr(v)
    if type(v) is int and -(1 << 63) <= v < 1 << 64:
        return b"%d" % v
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return b"[" + b",".join([_jstr(x) for x in v]) + b"]"
    return orjson.dumps(v, default=json_default)


def _jstr(s: str) -> bytes:
    return encode_basestring(s).encode()


def _matrix(values: list[bytes]) -> np.ndarray:
    """One row per value, NUL-padded on the right."""
    width = max(1, max(map(len, values)))
    return np.array(values, dtype=f"S{width}").view(np.uint8).reshape(len(values), width)


# -- integers ---------------------------------------------------------------------


def _digit_table(blank: bool, zero: bytes) -> np.ndarray:
    """0..9999 as four ASCII digits packed in a uint32 (memory order), with
    leading zeros as NUL when `blank`; then 10000..19999 as all four digits."""
    short = [(b"%4d" % i).replace(b" ", b"\0") if blank else b"%04d" % i for i in range(10000)]
    short[0] = zero
    full = [b"%04d" % i for i in range(10000)]
    return np.frombuffer(b"".join(short + full), np.uint32)


# For a word whose higher words are all zero, index i < 10000 picks the
# blanked form; otherwise i + 10000 picks all four digits. The units word of
# 0 is "0", any higher word of 0 is nothing.
_UNITS = _digit_table(True, b"\0\0\x000")
_HIGHER = _digit_table(True, b"\0\0\0\0")
_FULL = _UNITS[10000:]
_POW10 = [10**k for k in range(21)]


def _ints(a: np.ndarray) -> list[Part]:
    first = int(a[0])
    if bool((a == first).all()):  # one pass, the common case for header fields
        return [b"%d" % first]
    lo, hi = int(a.min()), int(a.max())
    if lo >= 0:
        return _magnitudes(a.astype(np.uint64, copy=False), lo, hi, b"")
    if hi < 0:
        return _magnitudes((-a.astype(np.int64)).view(np.uint64), -hi, -lo, b"-")
    neg = a < 0
    s = a.astype(np.int64)
    # -INT64_MIN wraps to itself, whose uint64 view is its magnitude 2**63.
    mag = np.where(neg, -s, s).view(np.uint64)
    sign = (neg * ord("-")).astype(np.uint8)[:, None]
    digits = _digits(mag, max(-lo, hi))
    return [np.concatenate([sign, digits], axis=1)]


def _magnitudes(mag: np.ndarray, lo: int, hi: int, sign: bytes) -> list[Part]:
    """Digits of uint64 values in [lo, hi] (not all equal). When they share
    their leading digits, those are one constant and only the tail varies."""
    k = 1
    while lo // _POW10[k] != hi // _POW10[k]:
        k += 1
    head = lo // _POW10[k]
    if head == 0:
        return [sign, _digits(mag, hi)]
    return [sign + b"%d" % head, _digits(mag - np.uint64(head * _POW10[k]), _POW10[k] - 1, pad=k)]


def _digits(mag: np.ndarray, hi: int, pad: int = 0) -> np.ndarray:
    """(n, width) ASCII digits of uint64 values up to `hi`, right-aligned in
    the width of `hi`: leading zeros are NUL, or with `pad`, '0' to `pad` digits."""
    width = pad or len(str(hi))
    words = (width + 3) // 4
    if hi < 1 << 63:
        mag = mag.view(np.int64)  # cheaper arithmetic, and native indices
    out = np.empty((len(mag), words), np.uint32)
    q = mag
    for j in range(words):  # from the units word up
        if j == words - 1:
            r = q.astype(np.intp, copy=False)  # the top word: nothing above it
        else:
            q, r = np.divmod(q, 10000)
            r = r.astype(np.intp, copy=False)
        if pad:
            out[:, words - 1 - j] = _FULL[r]
            continue
        if j < words - 1:
            np.add(r, 10000, out=r, where=q > 0)  # words above: all four digits
        out[:, words - 1 - j] = (_UNITS if j == 0 else _HIGHER)[r]
    return out.view(np.uint8)[:, 4 * words - width :]


# -- strings and bytes -------------------------------------------------------------

# Bytes a JSON string holds as they are and that decode to themselves:
# printable ASCII but the quote and the backslash. NUL is padding here.
_PLAIN = np.zeros(256, bool)
_PLAIN[0x20:0x7F] = True
_PLAIN[[0, ord('"'), ord("\\")]] = [True, False, False]


def _cstrings(a: np.ndarray, n: int) -> list[Part]:
    """NUL-terminated char arrays, decoded like rows() (up to the first
    NUL, invalid UTF-8 replaced) and JSON-escaped like orjson."""
    size = a.dtype.itemsize
    raw = np.ascontiguousarray(a).view(np.uint8).reshape(n, size)
    words = raw.view(np.uint64) if size % 8 == 0 else raw
    if bool((words == words[0]).all()):
        return [_jstr(a[0].split(b"\0", 1)[0].decode(errors="replace"))]
    nul = raw == 0
    length = np.where(nul.any(axis=1), nul.argmax(axis=1), size)
    width = int(length.max())
    m = raw[:, :width] * (np.arange(width) < length[:, None])
    bad = np.flatnonzero(~_PLAIN[m].all(axis=1))
    if len(bad):
        fixed = [_jstr(bytes(raw[i, : length[i]]).decode(errors="replace"))[1:-1] for i in bad.tolist()]
        fm = _matrix(fixed)
        if fm.shape[1] > width:
            m = np.pad(m, ((0, 0), (0, fm.shape[1] - width)))
        m[bad] = 0
        m[bad, : fm.shape[1]] = fm
    return [b'"', m, b'"']


_HEX = np.frombuffer(b"".join(b"%02x" % i for i in range(256)), np.uint16)


def _hex(a: np.ndarray, n: int) -> list[Part]:
    """Fixed arrays as rows() has them (the bytes of each row), which orjson
    writes as hex strings (json_default)."""
    raw = np.ascontiguousarray(a).view(np.uint8).reshape(n, -1)
    return [b'"', _HEX[raw].view(np.uint8).reshape(n, -1), b'"']
