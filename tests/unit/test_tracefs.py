"""tracefs format parsing and the generic tracepoint decoder, without a kernel:
records are built by hand at the offsets the BTF of tracepoint.bpf.o gives."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from ringscope.btf import Btf
from ringscope.errors import BadInput
from ringscope.events.layout import RING_HDR_SIZE
from ringscope.events.tagged import TaggedDecoder as DynamicDecoder
from ringscope.objects import object_path
from ringscope.sources import resolve_probe as resolve
from ringscope.sources.tracepoint import TracepointSpec
from ringscope.tracefs import parse_format, read_format

FORMAT = """name: demo_event
ID: 4242
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:__data_loc char[] name;\toffset:8;\tsize:4;\tsigned:0;
\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;
\tfield:char comm[16];\toffset:16;\tsize:16;\tsigned:0;
\tfield:unsigned long args[2];\toffset:32;\tsize:16;\tsigned:0;
\tfield:const char * filename;\toffset:48;\tsize:8;\tsigned:0;
\tfield:s8 delta;\toffset:56;\tsize:1;\tsigned:1;

print fmt: "name=%s", __get_str(name)
"""


def test_parse_format_fields() -> None:
    fmt = parse_format(FORMAT, "demo", "demo_event")
    assert fmt.id == 4242 and fmt.full_name == "demo:demo_event"
    assert fmt.size == 57
    name, comm, args, filename = (fmt.field(n) for n in ("name", "comm", "args", "filename"))
    assert name.is_data_loc and not name.is_char_array
    assert comm.is_char_array and comm.nelems == 16
    assert args.nelems == 2 and args.ctype == "unsigned long"
    assert filename.is_user_string and not args.is_user_string
    assert fmt.field("delta").signed
    assert [f.name for f in fmt.fields if f.is_common] == ["common_type", "common_flags",
                                                           "common_preempt_count", "common_pid"]  # fmt: skip


def test_parse_format_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="no fields"):
        parse_format("name: x\nID: 1\n")


def test_read_format_unknown_and_bad_names(tmp_path: Path) -> None:
    (tmp_path / "events" / "demo" / "demo_event").mkdir(parents=True)
    (tmp_path / "events" / "demo" / "demo_event" / "format").write_text(FORMAT)
    assert read_format("demo", "demo_event", tmp_path).id == 4242
    with pytest.raises(BadInput, match="unknown tracepoint 'demo:nope'"):
        read_format("demo", "nope", tmp_path)
    with pytest.raises(BadInput, match="bad tracepoint name"):
        read_format("de/mo", "x", tmp_path)


@pytest.mark.parametrize(
    "spec", ["tracepoint:a", "foo:bar:baz", "uprobe:nofunc", "kprobe:", "tracepoint:a:b:c"]
)
def test_malformed_specs(spec: str) -> None:
    with pytest.raises(BadInput, match="malformed"):
        resolve(spec)


def _spec() -> TracepointSpec:
    fmt = parse_format(FORMAT, "demo", "demo_event")
    return TracepointSpec(
        name="tracepoint:demo:demo_event", obj="tracepoint", programs=("handle_tp",),
        struct="rs_tracepoint", enum="RS_EV_TRACEPOINT", doc="", family="tracepoint",
        format=fmt, strings=("filename",),
    )  # fmt: skip


def test_cookie_packs_size_data_loc_and_string_offsets() -> None:
    c = _spec().cookie(7)
    assert c & 0xFFFF == 7
    assert (c >> 16) & 0xFFFF == 57
    assert (c >> 32) & 0xFFFF == 8  # the __data_loc field
    assert (c >> 48) & 0xFF == 48 // 8 and c >> 56 == 0


def _record(btf: Btf, tag: int, pid: int) -> bytes:
    """One ring record as tracepoint.bpf.c writes it."""
    st = btf.struct_layout("rs_tracepoint")
    hdr = btf.struct_layout("rs_header")
    raw = bytearray(57)
    struct.pack_into("<HBBi", raw, 0, 4242, 0, 0, pid)
    struct.pack_into("<I", raw, 8, 6 << 16 | 57)  # "hello\0" right after the fixed part
    struct.pack_into("<i16sQQQb", raw, 12, -pid, b"demo-comm", 1, 2**64 - 1, 0xDEAD, -3)
    raw += b"hello\0"
    body = bytearray(st.field("data").offset)
    struct.pack_into("<I", body, hdr.field("type").offset, 10)
    struct.pack_into("<I", body, hdr.field("pid").offset, pid)
    struct.pack_into("<16s", body, hdr.field("comm").offset, b"tester")
    struct.pack_into("<Q", body, st.field("cookie").offset, _spec().cookie(tag))
    struct.pack_into("<III", body, st.field("data_len").offset, len(raw), 9, 0)
    body += raw + b"/tmp/abc\0"
    rec = struct.pack("<II", len(body), 0) + body
    return rec + bytes(-len(rec) % 8)


def test_decoder_splits_by_tag_and_decodes_fields() -> None:
    btf = Btf.from_elf(object_path("tracepoint"))
    spec = _spec()
    dec = DynamicDecoder(btf, 10, "rs_tracepoint")
    dec.add(3, spec)
    recs = _record(btf, 3, 100) + _record(btf, 3, 101) + _record(btf, 9, 102)
    stride = len(recs) // 3
    chunks = dec.chunks(np.frombuffer(recs, dtype=np.uint8), stride, 40)
    assert [(c.seq0, len(c)) for c in chunks] == [(40, 2)]  # tag 9 is not ours
    rows = chunks[0].rows()
    r = rows[1]
    assert r["seq"] == 41 and r["type"] == "tracepoint:demo:demo_event"
    assert r["pid"] == 101 and r["comm"] == "tester"
    assert r["tp_pid"] == -101 and r["tp_comm"] == "demo-comm"  # clashes get a prefix
    assert r["name"] == "hello"
    assert r["args"] == [1, 2**64 - 1]
    assert r["filename"] == "/tmp/abc"
    assert r["delta"] == -3
    assert not {"_raw", "data_len", "str_len", "cookie", "common_pid"} & r.keys()
    assert RING_HDR_SIZE == 8


def test_usdt_argument_strings() -> None:
    from ringscope.sources.usdt import parse_args

    a, b, c, d = parse_args("-4@%edi 8@%rsi -4@112(%rsp) 8@$-5")
    assert (a.size, a.signed, a.kind, a.reg) == (4, True, 2, "di")
    assert (b.size, b.signed, b.reg) == (8, False, "si")
    assert (c.kind, c.reg, c.val) == (3, "sp", 112)
    assert (d.kind, d.val) == (1, -5)
    assert parse_args("8@%r12 1@%r9b 2@(%rax)")[2].val == 0
    with pytest.raises(BadInput, match="unsupported operand"):
        parse_args("8@(%rax,%rdx,8)")
