"""Profile file round trip, corrupt files, and report formats on a
synthetic profile (no kernel, no root)."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from ringscope.errors import BadInput
from ringscope.perf import report
from ringscope.perf.flamegraph import svg
from ringscope.perf.legacy import AggSample, from_aggregated
from ringscope.perf.profile import Profile
from ringscope.symbols import ElfSymbols, Kallsyms
from ringscope.symbols.maps import Mapping, parse_maps
from tests.unit.speedscope_schema import SCHEMA

K1, K2 = 0xFFFFFFFF81000010, 0xFFFFFFFF81000120
META = {"event": "cpu-clock", "freq": 99, "period": None, "callchain": True, "target": "'x'"}
STATS = {"samples": 10, "lost_key": 0, "kstack_err": 0, "ustack_err": 0}
SAMPLES = [
    AggSample(7, "app", 6, [], [0x1010, 0x2020]),
    AggSample(7, "app", 3, [K2, K1], [0x1010]),
    AggSample(8, "other;x", 1, [K1], []),
]
MAPS = {7: [Mapping(0x1000, 0x3000, 0, "/nonexistent/app")]}
V1 = {
    "format": "ringscope-profile", "version": 1, "meta": META, "stats": STATS,
    "samples": [{"pid": s.pid, "comm": s.comm, "count": s.count, "kstack": [hex(a) for a in s.kstack],
                 "ustack": [hex(a) for a in s.ustack]} for s in SAMPLES],
    "maps": {"7": [{"start": "0x1000", "end": "0x3000", "pgoff": "0x0", "path": "/nonexistent/app"}]},
    "build_ids": {"/nonexistent/app": "abcd"},
    "ksyms": {hex(K1): "do_syscall_64", hex(K2): "ksys_read"},
}  # fmt: skip


def _profile() -> Profile:
    return Profile.from_json(from_aggregated(SAMPLES, MAPS, {"/nonexistent/app": "abcd"},
                                             {K1: "do_syscall_64", K2: "ksys_read"}, META, STATS))  # fmt: skip


def _same(a: Profile, b: Profile) -> None:
    assert a.dsos == b.dsos and a.frames == b.frames and a.stacks == b.stacks and a.comms == b.comms
    assert a.knames == b.knames and a.meta == b.meta and a.stats == b.stats
    assert a.samples.cols == b.samples.cols


def test_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "p.profile"
    _profile().save(p)
    assert p.read_bytes()[:2] == b"\x1f\x8b"  # gzip
    back = Profile.load(p)
    _same(back, _profile())
    assert back.total == 10 and not back.per_sample


def test_reads_version_1(tmp_path: Path) -> None:
    p = tmp_path / "v1.profile"
    p.write_text(json.dumps(V1))
    _same(Profile.load(p), _profile())


@pytest.mark.parametrize(
    "content",
    ["", "{not json", "[1,2]", '{"format":"other"}', '{"format":"ringscope-profile","version":99}',
     '{"format":"ringscope-profile","version":1,"meta":{}}',
     '{"format":"ringscope-profile","version":1,"meta":{},"stats":{},"samples":[{"pid":"x"}],'
     '"maps":{},"build_ids":{},"ksyms":{}}',
     '{"format":"ringscope-profile","version":2,"meta":{},"stats":{},"dsos":[],"frames":[[1,5,1,0]],'
     '"stacks":[],"comms":[],"samples":{},"knames":{}}'],
)  # fmt: skip
def test_corrupt_files_are_bad_input(tmp_path: Path, content: str) -> None:
    p = tmp_path / "bad.profile"
    p.write_text(content)
    with pytest.raises(BadInput):
        Profile.load(p)


def test_unreadable_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="cannot read"):
        Profile.load(tmp_path / "missing")
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(BadInput):
        Profile.load(tmp_path / "bin")
    (tmp_path / "gz").write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(BadInput, match="corrupt"):
        Profile.load(tmp_path / "gz")


def test_devices_are_refused_at_once() -> None:
    """/dev/zero never ends: it must be refused from its first bytes."""
    with pytest.raises(BadInput, match="not a ringscope profile"):
        Profile.load("/dev/zero")
    with pytest.raises(BadInput):
        Profile.load("/dev/null")


def test_header_escapes_control_characters() -> None:
    prof = _profile()
    prof.meta["target"] = "'sh -c x\n 99.00%  forged  line'"
    out = report.text(prof, "sym")
    assert "forged" in out
    assert all(ln.startswith(("#", " ")) or not ln for ln in out.splitlines())
    assert not any(ln.lstrip().startswith("99.00%") for ln in out.splitlines())


def test_sort_keys_children_and_percent_limit() -> None:
    prof = _profile()
    by_pid = report.text(prof, "pid")
    assert "7:app" in by_pid and "90.00%" in by_pid
    children = report.text(prof, "sym", children=True)
    # do_syscall_64 is in 4 of 10 samples' stacks (self: 1)
    row = next(ln for ln in children.splitlines() if "do_syscall_64" in ln)
    assert row.split()[:2] == ["40.00%", "10.00%"]
    limited = report.text(prof, "sym", percent_limit=20.0)
    assert "do_syscall_64" not in limited and "0x10" in limited
    assert (
        len([ln for ln in report.text(prof, "sym", limit=1).splitlines() if "%" in ln and "#" not in ln]) == 1
    )


def test_text_report() -> None:
    out = report.text(_profile(), "sym", callgraph=True)
    lines = [ln for ln in out.splitlines() if not ln.startswith("#") and "%" in ln and "|" not in ln]
    # /nonexistent/app cannot be read: its frames keep their offsets, not one [unknown]
    assert lines[0].split() == ["60.00%", "[.]", "0x10"]  # the file offset
    assert "[k] ksys_read" in out and "do_syscall_64" in out
    with pytest.raises(BadInput):
        report.parse_sort("bogus")


def test_folded_parses() -> None:
    total = 0
    for line in report.folded(_profile()).splitlines():
        stack, count = line.rsplit(" ", 1)
        frames = stack.split(";")
        assert all(frames) and " " not in stack
        total += int(count)
    assert total == 10
    assert "app;0x10;do_syscall_64_[k];ksys_read_[k] 3" in report.folded(_profile())


def test_speedscope_validates() -> None:
    doc = json.loads(report.speedscope(_profile()))
    jsonschema.validate(doc, SCHEMA)
    prof = doc["profiles"][0]
    assert sum(prof["weights"]) == 10 and prof["endValue"] == 10
    nframes = len(doc["shared"]["frames"])
    assert all(0 <= i < nframes for s in prof["samples"] for i in s)


def test_svg_is_well_formed() -> None:
    root = ET.fromstring(svg(report.resolve(_profile()), title="t <&>"))
    assert root.tag.endswith("svg")
    titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("all (10 samples") for t in titles)


def test_kallsyms_and_maps_parsing() -> None:
    ks = Kallsyms("ffffffff81000000 T _stext\nffffffff81000100 t do_thing [mod]\n0000000000000000 T zero\n")
    assert ks.lookup(0xFFFFFFFF81000050) == "_stext"
    assert ks.lookup(0xFFFFFFFF81000105) == "do_thing [mod]"
    assert ks.lookup(0x10) is None
    maps = parse_maps(
        "55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 12 /bin/x\n"
        "55d0c0a01000-55d0c0a02000 r-xp 00001000 08:01 12 /bin/x\n"
        "7ffd1000-7ffd3000 r-xp 00000000 00:00 0 [vdso]\n"
    )
    assert maps == [
        Mapping(0x55D0C0A01000, 0x55D0C0A02000, 0x1000, "/bin/x"),
        Mapping(0x7FFD1000, 0x7FFD3000, 0, "[vdso]"),
    ]


def test_elf_symbols_of_this_python() -> None:
    syms = ElfSymbols.load(sys.executable)
    if syms is None or not syms._names:
        pytest.skip("this python binary has no function symbols")
    name, addr = syms._names[len(syms._names) // 2], syms._addrs[len(syms._addrs) // 2]
    assert syms.lookup(addr) == name
