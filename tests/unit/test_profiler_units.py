"""The profiler's parts without a kernel: perf record decoding, the
process maps replay, the CFI parser (GNU_args_size included), the
protobuf encoder, call-graph option parsing, and the svg depth cap."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ringscope.errors import BadInput
from ringscope.perf.callgraph import parse_callgraph
from ringscope.perf.flamegraph import MAX_DEPTH, svg
from ringscope.perf.protobuf import Message, varint
from ringscope.perf.report import Stack
from ringscope.perf.tasks import TaskMaps
from ringscope.symbols.cfi import BP_SAME, CFA_NONE, CFA_RBP, CFA_RSP, RA_UNDEFINED, parse_cfi
from ringscope.symbols.resolver import Frame
from ringscope.transport.perfrecords import Comm, Mmap, Sample, SampleFormat, Task, decode

TYPES = {"SAMPLE": 9, "MMAP2": 10, "COMM": 3, "FORK": 7, "EXIT": 4, "LOST": 2}
TRAILER = struct.pack("<IIQII", 10, 11, 777, 1, 0)  # pid, tid, time, cpu, res


def _rec(typ: int, misc: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 8)
    return struct.pack("<IHH", typ, misc, 8 + len(body)) + body


def test_decode_sample_with_callchain_regs_and_stack() -> None:
    fmt = SampleFormat(callchain=True, nregs=3, stack=True)
    chain = [(1 << 64) - 128, 0xFFFFFFFF81000010]
    body = struct.pack("<QIIQIIQ", 0x401000, 10, 11, 123, 1, 0, 5000)
    body += struct.pack(f"<Q{len(chain)}Q", len(chain), *chain)
    body += struct.pack("<Q3Q", 2, 0x7FF0, 0x7F00, 0x401000)  # abi, bp, sp, ip
    body += struct.pack("<Q", 16) + b"A" * 16 + struct.pack("<Q", 8)  # size, data, dyn_size
    s = decode(_rec(TYPES["SAMPLE"], 2, body), fmt)
    assert isinstance(s, Sample)
    assert (s.time, s.cpu, s.pid, s.tid, s.period, s.ip, s.user) == (123, 1, 10, 11, 5000, 0x401000, True)
    assert s.callchain == tuple(chain) and s.regs == (0x7FF0, 0x7F00, 0x401000) and s.stack == b"A" * 8


def test_decode_side_band_records() -> None:
    fmt = SampleFormat(False, 0, False)
    bid = bytes(range(20))
    body = struct.pack("<IIQQQ", 10, 11, 0x1000, 0x2000, 0x3000)
    body += struct.pack("<BBH", 20, 0, 0) + bid + struct.pack("<II", 5, 2) + b"/bin/x\0"
    body += b"\0" * (-len(body) % 8) + TRAILER
    m = decode(_rec(TYPES["MMAP2"], 1 << 14, body), fmt)
    assert m == Mmap(777, 10, 11, 0x1000, 0x2000, 0x3000, "/bin/x", bid.hex())
    c = decode(_rec(TYPES["COMM"], 1 << 13, struct.pack("<II", 10, 11) + b"python3\0" + TRAILER), fmt)
    assert c == Comm(777, 10, 11, "python3", True)
    t = decode(_rec(TYPES["FORK"], 0, struct.pack("<IIIIQ", 12, 10, 12, 11, 999) + TRAILER), fmt)
    assert t == Task(999, True, 12, 10, 12, 11)


def test_task_maps_replay() -> None:
    tm = TaskMaps()
    tm.mmap(Mmap(1, 10, 10, 0x1000, 0x3000, 0, "/bin/a", "aa"))
    tm.mmap(Mmap(2, 10, 10, 0x2000, 0x1000, 0x5000, "/lib/b", "bb"))  # replaces the middle
    assert tm.find(10, 0x1800).path == "/bin/a"  # type: ignore[union-attr]
    b = tm.find(10, 0x2800)
    assert b is not None and b.path == "/lib/b" and b.pgoff == 0x5000
    tail = tm.find(10, 0x3800)
    assert tail is not None and tail.path == "/bin/a" and tail.pgoff == 0x2000 and tail.start == 0x3000
    tm.comm(Comm(3, 10, 10, "a", False))
    tm.task(Task(4, True, 20, 10, 20, 10))  # fork: the child runs the parent's code
    assert tm.find(20, 0x1800).path == "/bin/a" and tm.comms[20] == "a"  # type: ignore[union-attr]
    tm.comm(Comm(5, 20, 20, "b", True))  # exec: a new address space
    assert tm.find(20, 0x1800) is None and tm.find(10, 0x1800) is not None


def _uleb(n: int) -> bytes:
    return varint(n)


def test_cfi_parser_handles_gnu_args_size_and_state() -> None:
    """A hand-made .eh_frame: one CIE (zR, pcrel sdata4 pointers), one FDE
    whose program uses GNU_args_size, remember/restore_state and rbp."""
    cie_body = b"\0\0\0\0" + b"\x01" + b"zR\0" + _uleb(1) + b"\x78" + _uleb(16)
    cie_body += _uleb(1) + b"\x1b"  # augmentation data: FDE pointers pcrel|sdata4
    cie_body += b"\x0c\x07\x08" + b"\x90\x01"  # def_cfa rsp+8; ra at cfa-8
    cie_body += b"\0" * (-(len(cie_body) + 4) % 8)
    cie = struct.pack("<I", len(cie_body)) + cie_body
    prog = b"\x41" + b"\x0e\x10" + b"\x86\x02"  # +1: cfa rsp+16, rbp at cfa-16
    prog += b"\x2e\x08"  # GNU_args_size 8: skipped
    prog += b"\x41\x0d\x06"  # +1: cfa = rbp (+16)
    prog += b"\x0a" + b"\x41\x0c\x07\x08" + b"\x0b"  # remember; +1 cfa rsp+8; restore
    fde_at = len(cie)
    pc_begin_field = fde_at + 8
    func = 0x1000
    fde_body = (
        struct.pack("<I", fde_at + 4) + struct.pack("<i", func - pc_begin_field) + struct.pack("<i", 0x20)
    )
    fde_body += _uleb(0) + prog
    fde_body += b"\0" * (-(len(fde_body) + 4) % 8)
    data = cie + struct.pack("<I", len(fde_body)) + fde_body + b"\0\0\0\0"
    rows = parse_cfi(data, 0, eh=True)
    got = [(r.pc, r.cfa, r.cfa_off, r.ra_off, r.bp_off) for r in rows]
    assert got == [
        (0x1000, CFA_RSP, 8, -8, BP_SAME),
        (0x1001, CFA_RSP, 16, -8, -16),
        (0x1002, CFA_RBP, 16, -8, -16),
        (0x1003, CFA_RBP, 16, -8, -16),  # restore_state undid the rsp+8 at the same pc
        (0x1020, CFA_NONE, 0, RA_UNDEFINED, BP_SAME),
    ]


def test_cfi_of_real_libc_is_sorted(tmp_path: Path) -> None:
    from ringscope.symbols.unwind_table import unwind_table

    libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
    if not Path(libc).exists():
        pytest.skip("no glibc at the Debian path")
    import os

    os.environ["XDG_CACHE_HOME"] = str(tmp_path)
    try:
        table = unwind_table.__wrapped__(libc, None)  # type: ignore[attr-defined]
        pcs = table.rows[:, 0].tolist() if table is not None else []
        assert table is not None and len(table) > 1000 and pcs == sorted(pcs)
        assert list(tmp_path.rglob("*.npz")), "the table is cached on disk"
        again = unwind_table.__wrapped__(libc, None)  # type: ignore[attr-defined]
        assert again is not None and (again.rows == table.rows).all()
    finally:
        del os.environ["XDG_CACHE_HOME"]


def test_protobuf_encoding() -> None:
    assert varint(1) == b"\x01" and varint(300) == b"\xac\x02" and len(varint(-1)) == 10
    m = Message().num(1, 150).text(2, "hi").packed(3, [1, 2]).num(4, 0)
    assert bytes(m) == b"\x08\x96\x01\x12\x02hi\x1a\x02\x01\x02"


@pytest.mark.parametrize(("text", "mode", "size"), [("fp", "fp", 0), ("dwarf", "dwarf", 8192),
                                                    ("dwarf,4000", "dwarf", 4000), ("dwarf,4001", "dwarf", 4008),
                                                    ("none", "none", 0)])  # fmt: skip
def test_callgraph_option(text: str, mode: str, size: int) -> None:
    cg = parse_callgraph(text)
    assert (cg.mode, cg.stack_size) == (mode, size)


@pytest.mark.parametrize("text", ["lbr", "dwarf,0", "dwarf,x", "dwarf,100000", "fp,8"])
def test_callgraph_option_errors(text: str) -> None:
    with pytest.raises(BadInput):
        parse_callgraph(text)


def test_svg_caps_a_garbage_tower() -> None:
    good = Stack("app", 1, 90, tuple(Frame(f"f{i}", "app", False) for i in range(5)))
    tower = Stack("app", 1, 10, tuple(Frame(f"g{i}", "app", False) for i in range(300)))
    root = ET.fromstring(svg([good, tower]))
    assert int(root.get("height") or 0) <= (MAX_DEPTH + 5) * 16
    titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("[236 more frames]") for t in titles)


def test_symbol_table_cache_round_trip_and_torn_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ringscope.symbols.elf import ElfSymbols, build_id, load_by_build_id

    libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
    if not Path(libc).exists():
        pytest.skip("no glibc at the Debian path")
    table = ElfSymbols.load(libc)
    assert table is not None and table.build_id
    data = table.to_bytes()
    again = ElfSymbols.from_bytes(libc, table.build_id, data)
    assert again is not None
    for addr in (0x29D90, 0x80E50, 0x110000):
        assert again.lookup_start(addr) == table.lookup_start(addr)
    for torn in (b"", data[:20], data[:-1], data + b"\0"):
        assert ElfSymbols.from_bytes(libc, table.build_id, torn) is None
    # a torn cache entry is rebuilt, not believed
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    bid = build_id(libc)
    assert bid is not None
    assert load_by_build_id.__wrapped__(libc, bid) is not None
    (entry,) = tmp_path.rglob("*.bin")
    entry.write_bytes(entry.read_bytes()[:100])
    rebuilt = load_by_build_id.__wrapped__(libc, bid)
    assert rebuilt is not None and rebuilt.lookup_start(0x29D90) == table.lookup_start(0x29D90)
