"""perf_event_attr from BTF, the syscall table, and event-name parsing."""

from __future__ import annotations

import errno
import json
import struct
from pathlib import Path

import pytest

from ringscope._perf import attr as attr_mod
from ringscope._perf import syscall
from ringscope._perf.attr import PerfEventAttr, attr_layout, constants
from ringscope.btf import Btf
from ringscope.errors import BadInput
from ringscope.perf.events import parse_event, parse_events

# Offsets fixed by the kernel ABI since PERF_ATTR_SIZE_VER0 (64 bytes); the
# BTF-derived layout must agree with them on every kernel.
ABI_VER0 = {"type": 0, "size": 4, "config": 8, "sample_period": 16, "sample_freq": 16,
            "sample_type": 24, "read_format": 32, "wakeup_events": 48, "bp_type": 52}  # fmt: skip


def test_layout_matches_abi() -> None:
    layout = attr_layout()
    assert layout.size >= 64
    for name, off in ABI_VER0.items():
        assert layout.fields[name].bit_offset == off * 8, name
    # The flags word starts at byte 40 with `disabled` as bit 0.
    assert layout.fields["disabled"].bit_offset == 40 * 8
    assert layout.fields["precise_ip"].bits == 2


def test_attr_carries_its_size_and_packs_bitfields() -> None:
    attr = PerfEventAttr(type=1, config=2, sample_freq=999, freq=1, disabled=1, precise_ip=3)
    raw = bytes(attr)
    assert len(raw) == attr_layout().size
    typ, size, config, freq = struct.unpack_from("<IIQQ", raw, 0)
    assert (typ, size, config, freq) == (1, len(raw), 2, 999)
    (flags,) = struct.unpack_from("<Q", raw, 40)
    f = attr_layout().fields
    assert flags == (1 << 0) | (1 << (f["freq"].bit_offset - 320)) | (3 << (f["precise_ip"].bit_offset - 320))
    assert attr["precise_ip"] == 3
    with pytest.raises(ValueError):
        attr["disabled"] = 2


def test_constants_come_from_btf() -> None:
    c = constants()
    assert c["PERF_TYPE_SOFTWARE"] == 1
    assert c["PERF_COUNT_SW_TASK_CLOCK"] == 1
    assert c["PERF_SAMPLE_CALLCHAIN"] == 32


def test_syscall_table() -> None:
    assert syscall.syscall_number("x86_64") == 298
    assert syscall.syscall_number("aarch64") == 241
    with pytest.raises(OSError) as e:
        syscall.syscall_number("vax")
    assert e.value.errno == errno.ENOSYS


def test_parse_events() -> None:
    groups = parse_events(["task-clock,{page-faults,cs}", "cycles:u"])
    assert [[e.name for e in g] for g in groups] == [["task-clock"], ["page-faults", "cs"], ["cycles:u"]]
    cyc = groups[2][0]
    assert cyc.kind == "hardware" and cyc.exclude_kernel and not cyc.exclude_user
    assert parse_event("faults").config == constants()["PERF_COUNT_SW_PAGE_FAULTS"]
    assert parse_event("L1-dcache-load-misses").kind == "cache"


@pytest.mark.parametrize("bad", ["foo", "cycles:zz", "{task-clock", "task-clock,,cs", "nosuch:tracepoint"])
def test_parse_events_rejects(bad: str) -> None:
    with pytest.raises(BadInput):
        parse_events([bad])


def test_cached_layout_equals_fresh_btf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = attr_mod._derive(Btf.vmlinux())
    assert fresh["size"] == attr_layout().size
    assert {k: v.bit_offset for k, v in attr_layout().fields.items()} == {
        k: off for k, (off, _bits) in fresh["fields"].items()
    }
    assert fresh["constants"] == constants()
    # A cold cache (new kernel, new BTF) derives and writes it.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    attr_mod._derived.cache_clear()
    try:
        assert attr_mod._derived() == json.loads(json.dumps(fresh))
        assert list((tmp_path / "ringscope").glob("perf-btf-*.json"))
    finally:
        attr_mod._derived.cache_clear()
