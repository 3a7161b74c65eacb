"""The column engine under every encoder: whole columns of values -> bytes.

Making one dict per event and formatting it costs ~2-3 us per event; this
costs a fraction of that, because the work is done per field:

- every field becomes a matrix of bytes with one row per event, padded with
  NUL (digits right-aligned, strings left-aligned); a field with one value
  in the whole chunk, and all the keys and punctuation, are constants laid
  in once per chunk as a template;
- the rows of all fields side by side are the lines, padding included:
  deleting every NUL leaves the text. NUL never occurs in the output (JSON
  escapes it as \\u0000, the text format too), so it is unambiguous padding;
- integers are converted four digits at a time with a table lookup; when
  every value of a column shares its leading digits (timestamps, seq, pids
  of a flood) those are a constant and only the varying tail is converted;
- C strings are copied as bytes when they hold only characters that need
  no escaping; the few that do are decoded and escaped one by one.

json.py and text.py say which parts make a line; this module makes them.
Everything here is a pure function of its arguments: thread-safe.
"""

from __future__ import annotations

from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any

import numpy as np
import orjson

__all__ = [
    "Part",
    "assemble",
    "cstrings",
    "digits",
    "hex_bytes",
    "ints",
    "json_default",
    "json_value",
    "lay_out",
    "matrix",
]

Part = bytes | np.ndarray  # a constant, or one row of bytes per event (NUL = padding)


def json_default(value: Any) -> Any:
    """orjson's `default` for what rows may hold besides JSON types."""
    if isinstance(value, bytes | bytearray):
        return value.hex()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__}")


def assemble(parts: list[Part], n: int) -> bytes:
    """Lay the parts side by side, n rows, and delete the padding."""
    if all(isinstance(p, bytes) for p in parts):
        return b"".join(parts) * n  # type: ignore[arg-type]
    mat, padded = lay_out(parts, n)
    # translate() deletes in one table-driven pass: 4x faster than replace() here.
    return mat.tobytes().translate(None, b"\0") if padded else mat.tobytes()


def lay_out(parts: list[Part], n: int) -> tuple[np.ndarray, bool]:
    """The parts side by side: one row of bytes per line, NUL-padded (what
    assemble() compacts), and whether any padding is in it."""
    template = bytearray()
    fields: dict[str, tuple[np.dtype, int]] = {}
    columns: dict[str, np.ndarray] = {}
    padded = False  # whether any part holds padding to delete
    for p in parts:
        if isinstance(p, bytes):
            template += p
        elif p.shape[1]:
            padded = padded or not bool(p.all())
            # Each part goes in as one field of a record per line: one
            # strided copy per part, not one tiny copy per row.
            name = f"f{len(fields)}"
            fields[name] = (np.dtype(f"V{p.shape[1]}"), len(template))
            columns[name] = p
            template += bytes(p.shape[1])
    mat = np.empty((n, len(template)), np.uint8)
    mat[:] = np.frombuffer(template, np.uint8)
    if not columns:
        return mat, False
    lines = mat.view(np.dtype({"names": list(fields), "formats": [f for f, _ in fields.values()],
                               "offsets": [o for _, o in fields.values()], "itemsize": len(template)}))[:, 0]  # fmt: skip
    for name, p in columns.items():
        lines[name] = np.ascontiguousarray(p).view(fields[name][0])[:, 0]
    return mat, padded


def json_value(v: Any) -> bytes:
    """orjson.dumps(v), without its per-call cost for the common types
    (encode_basestring escapes exactly as orjson does: the tests check every
    code point)."""
    if v is None:
        return b"null"
    if isinstance(v, str):
        return encode_basestring(v).encode()
    if type(v) is int and -(1 << 63) <= v < 1 << 64:
        return b"%d" % v
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return b"[" + b",".join([encode_basestring(x).encode() for x in v]) + b"]"
    return orjson.dumps(v, default=json_default)


def lookup(codes: np.ndarray, values: list[bytes]) -> Part:
    """Row i is values[codes[i]] (each distinct value already rendered)."""
    if all(v == values[0] for v in values):
        return values[0]
    return np.take(matrix(values), codes, axis=0)


def matrix(values: list[bytes]) -> np.ndarray:
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


def ints(a: np.ndarray) -> list[Part]:
    """Decimal integers, one per row (NUL-padded on the left)."""
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
    return [np.concatenate([sign, digits(mag, max(-lo, hi))], axis=1)]


def _magnitudes(mag: np.ndarray, lo: int, hi: int, sign: bytes) -> list[Part]:
    """Digits of uint64 values in [lo, hi] (not all equal). When they share
    their leading digits, those are one constant and only the tail varies."""
    k = 1
    while lo // _POW10[k] != hi // _POW10[k]:
        k += 1
    head = lo // _POW10[k]
    if head == 0:
        return [sign, digits(mag, hi)]
    return [sign + b"%d" % head, digits(mag - np.uint64(head * _POW10[k]), _POW10[k] - 1, pad=k)]


def digits(mag: np.ndarray, hi: int, pad: int = 0) -> np.ndarray:
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
PLAIN_JSON = np.zeros(256, bool)
PLAIN_JSON[0x20:0x7F] = True
PLAIN_JSON[[0, ord('"'), ord("\\")]] = [True, False, False]


def cstrings(
    a: np.ndarray,
    n: int,
    *,
    plain: np.ndarray = PLAIN_JSON,
    escape: Callable[[str], bytes] | None = None,
    empty_is_plain: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """NUL-terminated char arrays as a matrix of their bytes (decoded like
    rows(): up to the first NUL, invalid UTF-8 replaced), plus a mask of the
    rows that went through `escape`. Rows whose bytes are all `plain` are
    copied; the others (and empty ones, unless `empty_is_plain`) are decoded
    and passed through `escape` (default: JSON string escaping, without the
    quotes), one by one."""
    size = a.dtype.itemsize
    raw = np.ascontiguousarray(a).view(np.uint8).reshape(n, size)
    nul = raw == 0
    length = np.where(nul.any(axis=1), nul.argmax(axis=1), size)
    width = int(length.max())
    m = raw[:, :width] * (np.arange(width) < length[:, None])
    bad = np.asarray(~plain[m].all(axis=1))
    if not empty_is_plain:
        bad |= length == 0
    idx = np.flatnonzero(bad)
    if len(idx):
        esc = escape or _json_inner
        fixed = [esc(bytes(raw[i, : length[i]]).decode(errors="replace")) for i in idx.tolist()]
        fm = matrix(fixed)
        if fm.shape[1] > width:
            m = np.pad(m, ((0, 0), (0, fm.shape[1] - width)))
        m[idx] = 0
        m[idx, : fm.shape[1]] = fm
    return m, bad


def _json_inner(s: str) -> bytes:
    return encode_basestring(s).encode()[1:-1]


def same_cstring(a: np.ndarray, n: int) -> bytes | None:
    """The one value of a column of C strings whose rows are all the same
    bytes (decoded up to its NUL), or None."""
    size = a.dtype.itemsize
    # A contiguous copy compared a word at a time is ~4x faster than numpy's
    # own comparison of `S` values on the strided column.
    raw = np.ascontiguousarray(a).view(np.uint8).reshape(n, size)
    words = raw.view(np.uint64) if size % 8 == 0 else raw
    if bool((words == words[0]).all()):
        return bytes(a[0].split(b"\0", 1)[0])
    return None


_HEX = np.frombuffer(b"".join(b"%02x" % i for i in range(256)), np.uint16)


def hex_bytes(a: np.ndarray, n: int) -> np.ndarray:
    """The bytes of each row of a fixed array, as lowercase hex."""
    raw = np.ascontiguousarray(a).view(np.uint8).reshape(n, -1)
    return _HEX[raw].view(np.uint8).reshape(n, -1)


def int_lists(a: np.ndarray, sep: bytes = b",") -> list[Part]:
    """Each row of a 2-D integer array as its values joined by `sep`."""
    parts: list[Part] = []
    for j in range(a.shape[1]):
        if j:
            parts.append(sep)
        parts += ints(a[:, j])
    return parts
