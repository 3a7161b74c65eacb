"""Python's event layouts (derived from the objects' BTF) agree with what a
C compiler makes of bpf/include/events.h: every size and offset."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ringscope.btf import Btf
from ringscope.events.layout import EventLayout, flat_fields
from ringscope.objects import object_path
from ringscope.sources import EVENTS

ROOT = Path(__file__).resolve().parents[2]
STRUCTS = sorted({s.struct for s in EVENTS.values()} | {"rs_header", "rs_filter", "rs_drops"})


def _btf_with(st: str) -> Btf:
    for stem in dict.fromkeys(s.obj for s in EVENTS.values()):
        btf = Btf.from_elf(object_path(stem))
        if btf.has(st, 4):
            return btf
    raise AssertionError(f"no object describes struct {st}")


def _c_layouts(tmp: Path) -> dict[str, dict[str, int]]:
    """Compile a host program that prints sizeof/offsetof for every member."""
    lines = ["#include <stdio.h>", "#include <stddef.h>", "#include <linux/types.h>", '#include "events.h"',
             "int main(void) {", 'printf("{");']  # fmt: skip
    for i, st in enumerate(STRUCTS):
        sep = "," if i else ""
        lines.append(f'printf("{sep}\\"{st}\\":{{\\"__size\\":%zu", sizeof(struct {st}));')
        for name, _fmt, _off in _members(_btf_with(st), st):
            lines.append(f'printf(",\\"{name}\\":%zu", offsetof(struct {st}, {name}));')
        lines.append('printf("}");')
    lines += ['printf("}\\n");', "return 0; }"]
    src, exe = tmp / "layout.c", tmp / "layout"
    src.write_text("\n".join(lines))
    subprocess.run(["gcc", "-I", str(ROOT / "bpf/include"), "-o", str(exe), str(src)], check=True)
    out: dict[str, dict[str, int]] = json.loads(subprocess.check_output([str(exe)]))
    return out


def _members(btf: Btf, st: str) -> list[tuple[str, object, int]]:
    """Direct members (C's offsetof cannot name hdr.pid; nested ones are
    checked through rs_header itself)."""
    return [(f.name, None, f.offset) for f in btf.struct_layout(st).fields]


@pytest.mark.parametrize("stem", sorted({s.obj for s in EVENTS.values()}))
def test_every_object_describes_its_events(stem: str) -> None:
    btf = Btf.from_elf(object_path(stem))
    codes = btf.enum_values("rs_event_type")
    for spec in (s for s in EVENTS.values() if s.obj == stem):
        layout = EventLayout.from_btf(btf, spec.name, codes[spec.enum], spec.struct)
        names = [n for n, _, _ in layout.fields]
        assert names[:7] == ["ts_ns", "cgroup_id", "type", "cpu", "pid", "tid", "uid"]
        assert layout.record_size % 8 == 0 and layout.record_size >= layout.size + 8


def test_btf_layouts_match_the_c_compiler(tmp_path: Path) -> None:
    c = _c_layouts(tmp_path)
    for st in STRUCTS:
        layout = _btf_with(st).struct_layout(st)
        assert layout.size == c[st]["__size"], st
        for f in layout.fields:
            assert f.offset == c[st][f.name], f"{st}.{f.name}"
    # The flattened numpy view puts the header's members at their C offsets.
    flat = {n: off for n, _, off in flat_fields(_btf_with("rs_exec"), "rs_exec")}
    hdr = c["rs_header"]
    assert all(flat[k] == hdr[k] for k in hdr if k != "__size" and not k.startswith("__"))
