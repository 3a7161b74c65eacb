"""struct perf_event_attr, laid out from the running kernel's BTF.

The kernel grows perf_event_attr over time and versions it by the `size`
field: we set `size` to the struct size this kernel's BTF reports, so the
kernel reads exactly the fields it knows. Field offsets (including the
flag bitfields and the anonymous unions such as sample_period/sample_freq)
and the enum constants (PERF_TYPE_*, PERF_COUNT_*, PERF_SAMPLE_*) all come
from /sys/kernel/btf/vmlinux; nothing here is a hand-written offset.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ..btf import VMLINUX, Btf, Kind
from ..errors import NotSupported

__all__ = ["AttrLayout", "PerfEventAttr", "attr_layout", "constants", "mmap_page_offsets", "vmlinux_btf"]


@cache
def vmlinux_btf() -> Btf:
    try:
        return Btf.vmlinux()
    except OSError as e:
        raise NotSupported(f"read kernel BTF: {e.strerror} (CONFIG_DEBUG_INFO_BTF off?)") from None


_ENUMS = (
    "perf_type_id", "perf_hw_id", "perf_sw_ids", "perf_hw_cache_id", "perf_hw_cache_op_id",
    "perf_hw_cache_op_result_id", "perf_event_sample_format", "perf_event_read_format",
    # the profiler's ring: record types, callchain context markers, user register ids
    "perf_event_type", "perf_callchain_context", "perf_sample_regs_abi", "perf_event_x86_regs",
)  # fmt: skip


@dataclass(frozen=True)
class AttrField:
    name: str
    bit_offset: int  # from the start of the struct
    bits: int  # width; bitfields are < 64, plain integers 8 * size


@dataclass(frozen=True)
class AttrLayout:
    size: int
    fields: dict[str, AttrField]


def _walk(btf: Btf, type_id: int, base_bits: int, out: dict[str, AttrField]) -> None:
    info = btf.resolve(type_id)
    for name, mtype, bit_off, bits in btf.members(info):
        minfo = btf.resolve(mtype)
        if not name and minfo.kind in (Kind.STRUCT, Kind.UNION):
            # Anonymous unions (sample_period/sample_freq, config1/bp_addr...)
            _walk(btf, mtype, base_bits + bit_off, out)
            continue
        width = bits or 8 * btf.sizeof(mtype)
        out[name] = AttrField(name, base_bits + bit_off, width)


def layout_from_btf(btf: Btf) -> AttrLayout:
    info = btf.find("perf_event_attr", Kind.STRUCT)
    fields: dict[str, AttrField] = {}
    _walk(btf, info.id, 0, fields)
    return AttrLayout(info.size_or_type, fields)


def _cache_file(btf_bytes: bytes) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    # v3: the profiler's enums and the mmap page offsets were added.
    return base / "ringscope" / f"perf-btf-v3-{hashlib.sha1(btf_bytes).hexdigest()}.json"


def _derive(btf: Btf) -> dict[str, Any]:
    layout = layout_from_btf(btf)
    consts: dict[str, int] = {}
    for enum in _ENUMS:
        with contextlib.suppress(KeyError, LookupError):  # an arch's register enum is only on that arch
            consts.update(btf.enum_values(enum))
    fields = {f.name: [f.bit_offset, f.bits] for f in layout.fields.values()}
    page = btf.struct_layout("perf_event_mmap_page")
    ring = {name: page.field(name).offset for name in ("data_head", "data_tail")}
    return {"size": layout.size, "fields": fields, "constants": consts, "mmap_page": ring}


@cache
def _derived() -> dict[str, Any]:
    """Layout and constants from vmlinux BTF. Parsing all of vmlinux BTF in
    Python takes ~0.3 s, most of `ringscope stat`'s start-up, so the few
    values derived from it are cached per BTF content (its SHA-1: a new
    kernel is a new key; no stale entry can match)."""
    try:
        raw = VMLINUX.read_bytes()
    except OSError as e:
        raise NotSupported(f"read kernel BTF: {e.strerror} (CONFIG_DEBUG_INFO_BTF off?)") from None
    path = _cache_file(raw)
    with contextlib.suppress(OSError, ValueError):
        doc: dict[str, Any] = json.loads(path.read_text())
        return doc
    doc = _derive(Btf(raw))
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc))
        tmp.replace(path)
    return doc


@cache
def attr_layout() -> AttrLayout:
    d = _derived()
    fields = {name: AttrField(name, off, bits) for name, (off, bits) in d["fields"].items()}
    return AttrLayout(int(d["size"]), fields)


@cache
def mmap_page_offsets() -> dict[str, int]:
    """Byte offsets of data_head and data_tail in struct perf_event_mmap_page."""
    return {str(k): int(v) for k, v in _derived()["mmap_page"].items()}


@cache
def constants() -> dict[str, int]:
    """PERF_* enum constants of this kernel, by name."""
    return {str(k): int(v) for k, v in _derived()["constants"].items()}


class PerfEventAttr:
    """A perf_event_attr under construction. Set fields by their C names
    (bitfields included); `bytes(attr)` is what perf_event_open takes.
    Little-endian only: bitfields are packed from bit 0 of each u64."""

    def __init__(self, layout: AttrLayout | None = None, **values: int) -> None:
        self.layout = layout or attr_layout()
        self._buf = bytearray(self.layout.size)
        self["size"] = self.layout.size
        for name, value in values.items():
            self[name] = value

    def _field(self, name: str) -> AttrField:
        try:
            return self.layout.fields[name]
        except KeyError:
            raise NotSupported(f"perf_event_attr has no field {name!r} on this kernel") from None

    def __setitem__(self, name: str, value: int) -> None:
        f = self._field(name)
        if value < 0 or value >= 1 << f.bits:
            raise ValueError(f"perf_event_attr.{name} = {value} does not fit in {f.bits} bits")
        word = f.bit_offset // 64 * 8
        shift = f.bit_offset % 64
        mask = ((1 << f.bits) - 1) << shift
        (old,) = struct.unpack_from("<Q", self._buf, word)
        struct.pack_into("<Q", self._buf, word, (old & ~mask) | (value << shift))

    def __getitem__(self, name: str) -> int:
        f = self._field(name)
        (word,) = struct.unpack_from("<Q", self._buf, f.bit_offset // 64 * 8)
        return int((word >> (f.bit_offset % 64)) & ((1 << f.bits) - 1))

    def __bytes__(self) -> bytes:
        return bytes(self._buf)
