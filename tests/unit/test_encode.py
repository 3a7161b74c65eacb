"""The columnar NDJSON encoder makes, for every event, the very bytes that
orjson makes of `Chunk.rows()`: records of every static event type, built
with the layouts of the built objects' BTF, full of hostile values."""

from __future__ import annotations

import random
import socket
from functools import cache
from json.encoder import encode_basestring
from typing import Any

import numpy as np
import orjson
import pytest

from ringscope import encode
from ringscope.btf import Btf
from ringscope.encode import json_default
from ringscope.encode import ndjson as encode_ndjson
from ringscope.events.decode import Decoder
from ringscope.events.layout import EventLayout
from ringscope.events.records import Chunk
from ringscope.events.spec import EventSpec
from ringscope.objects import object_path
from ringscope.sources import EVENTS

STATIC = sorted(EVENTS)

STRINGS = [
    b"",
    b"bash",
    b'q"uote',
    b"back\\slash",
    b'},{"seq":2,"x":"',
    b"\x01\x1f\n\t\r\x08\x0c",
    b"\x7f del",
    b"\xff\xfe not utf-8",
    b"caf\xc3\xa9",  # valid UTF-8
    b"\xe2\x82",  # truncated UTF-8
    b"ab\0garbage after the nul",
    b"\0hidden",
    b"\\u0000",
    b"x" * 300,  # fills the whole array: no NUL at all
    *(b"c%c" % c for c in range(1, 0x20)),  # each control character alone
]
ARGVS = [
    b"",
    b"\0",
    b"ls\0-l\0",
    b"ls\0\0-l\0\0",
    b"a\0\0\0",
    b'sh\0-c\0echo "\\x"\0',
    b"\xff\0\xc3\0",
    b"x" * 256,
]
FAMILIES = [socket.AF_INET, socket.AF_INET6, socket.AF_UNIX, 0, 12345]


@cache
def layout_of(name: str) -> tuple[EventLayout, EventSpec, int]:
    spec = EVENTS[name]
    decoder = Decoder([Btf.from_elf(object_path(spec.obj))], [spec])
    code, (layout, spec) = next(iter(decoder.by_code.items()))
    return layout, spec, code


def edge_ints(dtype: np.dtype) -> list[int]:
    info = np.iinfo(dtype)
    vals = [0, 1, 9, 10, 99, 100, 9999, 10000, 123456789, info.max, info.max - 1, info.min]
    if info.min < 0:
        vals += [-1, -9, -10, -10000, info.min + 1]
    return [v for v in vals if info.min <= v <= info.max]


def records(name: str, n: int, seed: int) -> tuple[np.ndarray, int]:
    """n records laid out as in the ring (stride apart, 8-byte ring header),
    starting as random garbage, as reused ring memory would."""
    layout, _spec, code = layout_of(name)
    stride = layout.record_size
    garbage = np.random.default_rng(seed).integers(0, 256, n * stride, dtype=np.uint8)
    return np.ndarray((n,), layout.ring_dtype(stride), bytearray(garbage.tobytes())), code


def fill_hostile(recs: np.ndarray, code: int, shift: int = 0) -> None:
    """Every field cycles through its hostile values, each with its own
    period, so that rows combine them differently."""
    for k, name in enumerate(recs.dtype.names):
        dt = recs.dtype[name]
        n = len(recs)
        i = (np.arange(n) + shift * (k + 1)) % 97
        if name == "type":
            recs[name] = code
        elif name == "family":
            recs[name] = [FAMILIES[j % len(FAMILIES)] for j in i.tolist()]
        elif name == "argv":
            recs[name] = [ARGVS[j % len(ARGVS)] for j in i.tolist()]
        elif name == "argv_len":
            recs[name] = [(0, 1, 3, 7, 255, 256, 1000)[j % 7] for j in i.tolist()]
        elif dt.kind == "S":
            recs[name] = [STRINGS[j % len(STRINGS)][: dt.itemsize] for j in i.tolist()]
        elif dt.subdtype is not None:  # fixed arrays (addresses): random bytes
            pass
        else:
            pool = edge_ints(dt)
            recs[name] = [pool[j % len(pool)] for j in i.tolist()]


def expected(chunk: Chunk) -> list[bytes]:
    return [orjson.dumps(row) for row in chunk.rows()]


def check(chunk: Chunk) -> None:
    before = chunk.records.copy()
    want = expected(chunk)
    blob = encode_ndjson(chunk)
    assert blob.endswith(b"\n")
    got = blob[:-1].split(b"\n")
    assert len(got) == len(want)
    for seq, (g, w) in enumerate(zip(got, want, strict=True), chunk.seq0):
        assert g == w, f"seq {seq}"
    for name in before.dtype.names:
        assert np.array_equal(before[name], chunk.records[name]), f"the encoder wrote to {name}"
    check_other_formats(chunk)


def check_other_formats(chunk: Chunk) -> None:
    """SSE and text, against the same rows: each format made from rows one by
    one is the oracle for its columnar path."""
    rows = chunk.rows()
    t = chunk.spec.name.encode()
    want_sse = b"".join(b"id: %d\nevent: %s\ndata: %s\n\n" % (r["seq"], t, orjson.dumps(r)) for r in rows)
    assert encode.sse(chunk) == want_sse
    got_text = encode.text(chunk).split(b"\n")
    want_text = b"".join(encode.text_row(r) for r in rows).split(b"\n")
    for seq, (g, w) in enumerate(zip(got_text, want_text, strict=True), chunk.seq0):
        assert g == w, f"text, seq {seq}"


def chunk_of(name: str, recs: np.ndarray, seq0: int = 0) -> Chunk:
    layout, spec, _code = layout_of(name)
    return Chunk(layout, spec, seq0, recs)


@pytest.mark.parametrize("name", STATIC)
def test_every_static_type_has_a_columnar_path(name: str) -> None:
    spec = EVENTS[name]
    assert spec.finish is None or spec.finish_columns is not None


@pytest.mark.parametrize("name", STATIC)
def test_hostile_values_encode_like_orjson_of_rows(name: str) -> None:
    recs, code = records(name, 300, seed=1)
    fill_hostile(recs, code)
    check(chunk_of(name, recs, seq0=99_995))  # seq crosses a power of ten


@pytest.mark.parametrize("name", STATIC)
def test_one_row_and_identical_rows(name: str) -> None:
    """Columns with one value in the chunk take the constant path."""
    for shift in range(20):
        recs, code = records(name, 1, seed=shift)
        fill_hostile(recs, code, shift)
        check(chunk_of(name, recs, seq0=shift))
        same = np.repeat(recs, 5)
        check(chunk_of(name, same, seq0=(1 << 63) - 10))


def test_integer_columns_of_every_shape() -> None:
    """Shared leading digits, mixed widths, all negative, mixed sign, the
    extremes of u64 and s64: through syscall's s64 ret and u64 duration."""
    cases: list[tuple[list[int], list[int]]] = [
        ([-1, -5, -99, -100000], [2**64 - 1, 2**64 - 2, 2**64 - 10]),
        ([-(2**63), 2**63 - 1, 0, -1], [0, 1, 10, 10000, 99999999]),
        ([1234567, 1234599, 1234500], [10**19, 10**19 + 1, 10**19 + 10**18]),
        ([-1234567, -1234599, -1234500], [9999, 10000, 10001]),
        ([0, 0, 1], [10**12 + 5, 10**12 + 7, 10**12 + 123456]),
    ]
    for rets, durs in cases:
        recs, code = records("syscall", 12, seed=len(rets))
        fill_hostile(recs, code)
        recs["ret"] = [rets[i % len(rets)] for i in range(12)]
        recs["duration_ns"] = [durs[i % len(durs)] for i in range(12)]
        check(chunk_of("syscall", recs))


def test_socket_families_and_addresses() -> None:
    recs, code = records("connect", 40, seed=7)
    fill_hostile(recs, code)
    recs["family"] = [FAMILIES[i % 3] for i in range(40)]  # every row has an address (or none)
    recs["addr"][::4] = 0
    recs["addr"][1::4] = np.arange(16, dtype=np.uint8)
    check(chunk_of("connect", recs))
    recs["family"] = socket.AF_INET  # ports stay ints; garbage after the IPv4 bytes is ignored
    check(chunk_of("connect", recs))
    recs["family"] = socket.AF_UNIX
    check(chunk_of("accept", recs))


def test_exec_argv() -> None:
    recs, code = records("exec", len(ARGVS) * 3, seed=3)
    fill_hostile(recs, code)
    recs["argv"] = ARGVS * 3
    recs["argv_len"] = [len(a) for a in ARGVS] + [0] * len(ARGVS) + [256] * len(ARGVS)
    check(chunk_of("exec", recs))


def _random_bytes(rnd: random.Random, width: int) -> bytes:
    alphabet = b'ab/._-"\\\x00\x01\n\x7f\xc3\xa9\xff '
    plain = rnd.random() < 0.5
    k = rnd.randint(0, width)
    return bytes(rnd.choice(alphabet[:6] if plain else alphabet) for _ in range(k))


def _random_int(rnd: random.Random, dt: np.dtype, base: int, spread: int) -> int:
    info = np.iinfo(dt)
    return max(info.min, min(info.max, base + rnd.randint(-spread, spread)))


@pytest.mark.parametrize("name", STATIC)
def test_randomized(name: str) -> None:
    """Random chunks (fixed seed): random sizes, integer columns that are
    constant, close together or spread over their whole range, strings that
    are plain or hostile."""
    rnd = random.Random(f"encode-{name}")
    for _ in range(40):
        n = rnd.choice([1, 2, 3, 17, 200])
        recs, code = records(name, n, seed=rnd.randrange(1 << 30))
        for fname in recs.dtype.names:
            dt = recs.dtype[fname]
            if fname == "type":
                recs[fname] = code
            elif fname == "family":
                recs[fname] = [rnd.choice(FAMILIES) for _ in range(n)]
            elif fname == "argv_len":
                recs[fname] = [rnd.randint(0, 300) for _ in range(n)]
            elif dt.kind == "S":
                recs[fname] = [_random_bytes(rnd, dt.itemsize) for _ in range(n)]
            elif dt.subdtype is None:
                info = np.iinfo(dt)
                base = rnd.choice(
                    [0, 1, int(info.max), int(info.min), rnd.randint(int(info.min), int(info.max))]
                )
                spread = rnd.choice([0, 3, 5000, 10**12, 1 << 64])
                recs[fname] = [_random_int(rnd, dt, base, spread) for _ in range(n)]
        check(chunk_of(name, recs, seq0=rnd.choice([0, 9990, 10**15 - 50])))


def test_string_escapes_match_orjson_for_every_code_point() -> None:
    """The encoder escapes strings with the json module's encode_basestring."""
    for start in range(0, 0x110000, 4096):
        text = "".join(chr(c) for c in range(start, min(start + 4096, 0x110000)) if not 0xD800 <= c < 0xE000)
        assert encode_basestring(text).encode() == orjson.dumps(text), hex(start)


def test_a_type_without_columnar_finish_is_encoded_from_rows() -> None:
    layout, spec, code = layout_of("syscall")
    calls: list[int] = []

    def finish(rows: list[dict[str, Any]]) -> None:
        calls.append(len(rows))
        for r in rows:
            r["extra"] = b"\x00\xff"  # bytes: hex, as orjson's default makes them

    row_only = EventSpec(spec.name, spec.obj, spec.programs, spec.struct, spec.enum, spec.doc, finish)
    recs, _ = records("syscall", 4, seed=5)
    fill_hostile(recs, code)
    chunk = Chunk(layout, row_only, 0, recs)
    blob = encode_ndjson(chunk)
    assert calls == [4]
    assert b'"extra":"00ff"}\n' in blob
    assert encode_ndjson(chunk) == blob
    assert blob.splitlines() == [orjson.dumps(r, default=json_default) for r in chunk.rows()]


def test_empty_chunk() -> None:
    recs, _ = records("open", 0, seed=0)
    assert encode_ndjson(chunk_of("open", recs)) == b""


def test_columns_without_any_touch_up() -> None:
    """A spec with no finish at all: fixed arrays are hex strings (the
    rows' bytes through json_default), enums plain ints."""
    layout, spec, code = layout_of("connect")
    bare = EventSpec(spec.name, spec.obj, spec.programs, spec.struct, spec.enum, spec.doc)
    recs, _ = records("connect", 50, seed=11)
    fill_hostile(recs, code)
    chunk = Chunk(layout, bare, 7, recs)
    blob = encode_ndjson(chunk)
    assert blob.splitlines() == [orjson.dumps(r, default=json_default) for r in chunk.rows()]
    assert b'"addr":"' in blob
