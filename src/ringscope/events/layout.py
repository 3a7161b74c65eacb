"""Event layouts derived from the BTF of the built BPF objects.

Nothing here names an offset or a size: the C header (bpf/include/events.h)
is the single source, and these numpy dtypes are generated from its BTF.
Nested structs (the common `hdr`) are flattened, so every decoded event has
`ts_ns`, `pid`, ... at the top level. Padding members are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np

from ..btf import Btf, Field, Kind
from ..transport.base import RING_HDR_SIZE

__all__ = ["EventLayout", "flat_fields", "header_fields", "struct_dtype"]


def _fmt(f: Field) -> str | tuple[str, tuple[int]]:
    if f.kind == Kind.ARRAY:
        if f.is_char_array:
            return f"S{f.nelems}"
        return (f"<u{f.elem_size}", (f.nelems,))
    if f.kind in (Kind.INT, Kind.ENUM, Kind.ENUM64):
        return f"<{'i' if f.signed else 'u'}{f.size}"
    if f.kind == Kind.PTR:
        return "<u8"
    raise ValueError(f"field {f.name}: unsupported BTF kind {f.kind}")


def flat_fields(btf: Btf, struct_name: str) -> list[tuple[str, object, int]]:
    """(name, numpy format, offset) of every member, nested structs flattened."""
    out: list[tuple[str, object, int]] = []

    def walk(name: str, base: int) -> None:
        for f in btf.struct_layout(name).fields:
            if f.name.startswith("__pad"):
                continue
            if f.kind == Kind.STRUCT:
                walk(btf.type(f.type_id).name, base + f.offset)
            else:
                out.append((f.name, _fmt(f), base + f.offset))

    walk(struct_name, 0)
    return out


def header_fields(btf: Btf, struct: str) -> list[tuple[str, object, int]]:
    """The rs_header members of `struct` (flattened), as EventLayout fields."""
    names = {n for n, _, _ in flat_fields(btf, "rs_header")}
    return [f for f in flat_fields(btf, struct) if f[0] in names]


def struct_dtype(btf: Btf, struct_name: str, *, base: int = 0, itemsize: int | None = None) -> np.dtype:
    """A numpy dtype for `struct_name`, its members shifted by `base` bytes."""
    fields = flat_fields(btf, struct_name)
    size = btf.struct_layout(struct_name).size
    return np.dtype(
        {
            "names": [n for n, _, _ in fields],
            "formats": [f for _, f, _ in fields],
            "offsets": [o + base for _, _, o in fields],
            "itemsize": itemsize if itemsize is not None else size + base,
        }
    )


@dataclass(frozen=True, eq=False)
class EventLayout:
    """One stream event type: its name, enum code, C struct and size."""

    name: str
    code: int
    struct: str
    size: int
    fields: tuple[tuple[str, object, int], ...] = field(repr=False)

    @classmethod
    def from_btf(cls, btf: Btf, name: str, code: int, struct: str) -> EventLayout:
        return cls(name, code, struct, btf.struct_layout(struct).size, tuple(flat_fields(btf, struct)))

    @property
    def record_size(self) -> int:
        """Bytes the record takes in the ring: 8-byte header, 8-byte aligned."""
        return (self.size + RING_HDR_SIZE + 7) & ~7

    @cache  # noqa: B019 - layouts live for the whole process
    def ring_dtype(self, stride: int) -> np.dtype:
        """The dtype of this record as it sits in the ring, `stride` apart."""
        return np.dtype(
            {
                "names": [n for n, _, _ in self.fields],
                "formats": [f for _, f, _ in self.fields],
                "offsets": [o + RING_HDR_SIZE for _, _, o in self.fields],
                "itemsize": stride,
            }
        )
