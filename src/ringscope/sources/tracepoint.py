"""Python half of bpf/tracepoint.bpf.c: any tracepoint by name.

The kernel side copies the raw record; this side describes it with the
tracefs format file: integers and fixed arrays become numpy fields at their
format offsets (so a Chunk of tracepoint events is as cheap to decode as a
static one), `__data_loc` strings and syscall string arguments (read through
the user pointer by the kernel side) are filled in by `finish`.
Field names that clash with the common header (`pid`, `comm`, ...) get a
`tp_` prefix; `common_*` fields are dropped (the header has them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..btf import Btf
from ..errors import BadInput
from ..events.layout import EventLayout, header_fields
from ..events.spec import Columns, IntLists, Nullable, Row, array
from ..events.tagged import TAG_MASK
from ..objects import object_btf
from ..tracefs import TpField, TpFormat, parse_format, read_format
from ..transport.base import RING_HDR_SIZE
from .dynamic import DynamicSpec

if TYPE_CHECKING:
    from .._libbpf import BpfObject, Link

__all__ = ["TracepointSpec", "rebuild", "resolve", "tp_limits"]

_CLASH = frozenset({"seq", "ts_ns", "cgroup_id", "type", "cpu", "pid", "tid", "uid", "comm"})


# Syscall tracepoints store every argument in an 8-byte slot and say
# signed:0 even for `int dfd`; the C type knows better. Little-endian, so
# the low half of the slot is the int.
_SIGNED_INT = frozenset({"int", "pid_t", "clockid_t", "key_t", "mqd_t", "timer_t", "int32_t"})
_SIGNED_LONG = frozenset({"long", "off_t", "loff_t", "ssize_t", "time_t", "long long"})


def tp_limits() -> tuple[int, int]:
    """(RS_TP_DATA_LEN, RS_TP_STRS) from tracepoint.bpf.o's BTF: how much of
    a raw record the kernel side copies, and how many user strings it reads."""
    btf = object_btf("tracepoint")
    strs = btf.struct_layout("rs_tracepoint").field("str_len").nelems
    return btf.enum_values("rs_tp_limits")["RS_TP_DATA_LEN"], strs


def _numpy_format(f: TpField) -> object:
    if f.is_data_loc or f.is_rel_loc:
        return "<u4"
    if f.size == 8 and not f.nelems and f.ctype in _SIGNED_INT:
        return "<i4"
    if f.size == 8 and not f.nelems and f.ctype in _SIGNED_LONG:
        return "<i8"
    kind = "i" if f.signed else "u"
    if f.is_char_array:
        return f"S{f.size}"
    if f.nelems:
        elem = f.size // f.nelems
        if elem in (1, 2, 4, 8) and elem * f.nelems == f.size:
            return (f"<{kind}{elem}", (f.nelems,))
        return ("<u1", (f.size,))
    if f.size in (1, 2, 4, 8):
        return f"<{kind}{f.size}"
    return ("<u1", (f.size,))


def out_name(f: TpField) -> str:
    """The JSON name of a tracepoint field."""
    return f"tp_{f.name}" if f.name in _CLASH else f.name


@dataclass(frozen=True, kw_only=True)
class TracepointSpec(DynamicSpec):
    """`tracepoint:SYSTEM:NAME`, described by its format file."""

    format: TpFormat
    strings: tuple[str, ...] = ()  # `const char *` args the kernel side reads as strings
    # RS_TP_DATA_LEN of the object that copies the record: kept in the spec,
    # so a capture decodes with the limit it was made with.
    data_len: int = field(default_factory=lambda: tp_limits()[0])

    def __post_init__(self) -> None:
        object.__setattr__(self, "finish", self._finish)
        object.__setattr__(self, "finish_columns", self._finish_columns)

    @property
    def fields(self) -> tuple[TpField, ...]:
        limit = min(self.format.size, self.data_len)
        return tuple(f for f in self.format.fields if not f.is_common and f.offset + f.size <= limit)

    @property
    def needs_tail(self) -> bool:
        return bool(self.strings) or any(f.is_data_loc or f.is_rel_loc for f in self.fields)

    def cookie(self, tag: int) -> int:
        """The attach cookie: how the kernel side copies this record (events.h)."""
        if not 0 <= tag <= TAG_MASK:
            raise BadInput(f"too many events in one session (at most {TAG_MASK + 1})")
        fields = self.fields
        data_len = self.data_len
        size = min(self.format.size, data_len)
        if any(f.is_rel_loc for f in fields):
            size = data_len  # the kernel side only follows __data_loc: copy all it may need
        locs = [f.offset for f in fields if f.is_data_loc]
        cookie = tag | size << 16 | (max(locs) if locs else 0) << 32
        for i, name in enumerate(self.strings):
            cookie |= (self.format.field(name).offset // 8) << (48 + 8 * i)
        return cookie

    def describe(self) -> dict[str, Any]:
        """The tracefs format file as read, and what the kernel side copies."""
        return {**super().describe(), "system": self.format.system, "tracepoint": self.format.name,
                "format": self.format.text, "strings": list(self.strings), "data_len": self.data_len}  # fmt: skip

    def attach(self, obj: BpfObject, tag: int, pid: int | None) -> Iterator[Link]:
        prog = obj.program("handle_tp")
        yield prog.attach_tracepoint(self.format.system, self.format.name, cookie=self.cookie(tag))

    def layout(self, btf: Btf, code: int, stride: int) -> EventLayout:
        st = btf.struct_layout(self.struct)
        data = st.field("data").offset
        room = stride - RING_HDR_SIZE
        fields: list[tuple[str, object, int]] = header_fields(btf, self.struct)
        fields += [
            (out_name(f), _numpy_format(f), data + f.offset)
            for f in self.fields
            if data + f.offset + f.size <= room
        ]
        if self.needs_tail:
            fields.append(("data_len", "<u4", st.field("data_len").offset))
            str_len = st.field("str_len")
            fields.append(("str_len", ("<u4", (str_len.nelems,)), str_len.offset))
            fields.append(("_raw", ("<u1", (room - data,)), data))
        return EventLayout(self.name, code, self.struct, st.size, tuple(fields))

    def _finish(self, rows: list[Row]) -> None:
        arrays = [(out_name(f), _numpy_format(f)) for f in self.fields if f.nelems and not f.is_char_array]
        locs = [f for f in self.fields if f.is_data_loc or f.is_rel_loc]
        for r in rows:
            for name, fmt in arrays:
                r[name] = _array_value(r[name], fmt)
            if not self.needs_tail:
                continue
            raw: bytes = r.pop("_raw")
            end = min(r.pop("data_len"), len(raw))
            for f in locs:
                r[out_name(f)] = _loc_value(f, r[out_name(f)], raw[:end])
            pos = end
            for name, n in zip(self.strings, np.frombuffer(r.pop("str_len"), "<u4").tolist(), strict=False):
                r[name] = raw[pos : pos + n].split(b"\0", 1)[0].decode(errors="replace") if n else None
                pos += n

    def _finish_columns(self, cols: Columns) -> None:
        """_finish on whole columns (the encoder's path): the same values."""
        for f in self.fields:
            name = out_name(f)
            fmt = _numpy_format(f)
            if (
                f.nelems
                and not f.is_char_array
                and name in cols
                and isinstance(fmt, tuple)
                and fmt[0] != "<u1"
            ):
                cols[name] = IntLists(array(cols, name))
        if not self.needs_tail:
            return
        raw = array(cols, "_raw")
        end = np.minimum(array(cols, "data_len").astype(np.int64), raw.shape[1])
        str_len = array(cols, "str_len").astype(np.int64)
        for key in ("_raw", "data_len", "str_len"):
            del cols[key]
        for f in self.fields:
            if not (f.is_data_loc or f.is_rel_loc):
                continue
            loc = array(cols, out_name(f)).astype(np.int64)
            off = loc & 0xFFFF
            if f.is_rel_loc:
                off += f.offset + f.size
            stop = np.minimum(off + (loc >> 16), end)
            if "char" in f.ctype:
                cols[out_name(f)] = _gather(raw, off, stop)
            else:
                cols[out_name(f)] = [
                    bytes(raw[i, a:b]).hex()
                    for i, (a, b) in enumerate(zip(off.tolist(), stop.tolist(), strict=True))
                ]
        pos = end
        for i, name in enumerate(self.strings[: str_len.shape[1]]):
            k = str_len[:, i]
            cols[name] = Nullable(_gather(raw, pos, np.minimum(pos + k, raw.shape[1])), k > 0)
            pos = pos + k


def _gather(raw: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Row i's bytes raw[i, start[i]:stop[i]], as a column of `S<w>` strings."""
    n = len(raw)
    lens = np.maximum(stop - start, 0)
    width = int(lens.max()) if n else 0
    if width == 0:
        return np.zeros(n, "S1")
    if bool((start == start[0]).all()):
        # One offset in every row (a tracepoint's strings follow its fixed
        # part, so they usually do): one strided copy instead of a gather,
        # which costs 4-5x as much and is what a batch of several
        # interleaved types spends most of its tracepoint decoding on.
        a = int(start[0])
        out = np.array(raw[:, a : a + width], np.uint8)
    else:
        idx = start[:, None] + np.arange(width)
        out = raw[np.arange(n)[:, None], np.minimum(idx, raw.shape[1] - 1)].astype(np.uint8)
    # Past each row's stop is the rest of the record, not the string.
    np.multiply(out, np.arange(width) < lens[:, None], out=out, casting="unsafe")
    return out.view(f"S{width}").reshape(n)


def _array_value(value: Any, fmt: object) -> Any:
    if not isinstance(value, bytes):
        return value
    if isinstance(fmt, tuple) and fmt[0] != "<u1":
        return np.frombuffer(value, dtype=fmt[0]).tolist()
    return value.hex()


def _loc_value(f: TpField, loc: int, record: bytes) -> str:
    off, n = loc & 0xFFFF, loc >> 16
    if f.is_rel_loc:
        off += f.offset + f.size
    blob = record[off : off + n]
    if "char" in f.ctype:
        return blob.split(b"\0", 1)[0].decode(errors="replace")
    return blob.hex()


def resolve(system: str, name: str) -> TracepointSpec:
    """The spec for SYSTEM:NAME; BadInput for an unknown tracepoint."""
    fmt = read_format(system, name)
    strings: tuple[str, ...] = ()
    if system == "syscalls" and name.startswith("sys_enter_"):
        strings = tuple(f.name for f in fmt.fields if f.is_user_string and f.offset % 8 == 0)[
            : tp_limits()[1]
        ]
    return _spec(fmt, strings, tp_limits()[0])


def rebuild(desc: dict[str, Any]) -> TracepointSpec:
    """The spec a capture file describes (TracepointSpec.describe), from its
    stored format text: tracefs is not read. ValueError if it is malformed."""
    fmt = parse_format(str(desc["format"]), str(desc["system"]), str(desc["tracepoint"]))
    return _spec(fmt, tuple(str(s) for s in desc["strings"]), int(desc["data_len"]))


def _spec(fmt: TpFormat, strings: tuple[str, ...], data_len: int) -> TracepointSpec:
    system, name = fmt.system, fmt.name
    return TracepointSpec(
        name=f"tracepoint:{system}:{name}",
        obj="tracepoint",
        programs=("handle_tp",),
        struct="rs_tracepoint",
        enum="RS_EV_TRACEPOINT",
        doc=f"tracepoint {system}:{name}, fields from its tracefs format",
        family="tracepoint",
        format=fmt,
        strings=strings,
        data_len=data_len,
    )
