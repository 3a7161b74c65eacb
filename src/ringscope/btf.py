"""A small reader for BTF, the kernel's type format.

Used to derive every struct layout Python needs from the built BPF object
(or from /sys/kernel/btf/vmlinux), so no layout is ever written by hand in
Python. Pure Python, no kernel needed: unit tests run it on built objects.
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from elftools.elf.elffile import ELFFile

from .errors import BadInput

__all__ = ["Btf", "Field", "Kind", "StructLayout", "TypeInfo"]

VMLINUX = Path("/sys/kernel/btf/vmlinux")
_MAGIC = 0xEB9F


class Kind:
    INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF = 1, 2, 3, 4, 5, 6, 7, 8
    VOLATILE, CONST, RESTRICT, FUNC, FUNC_PROTO, VAR, DATASEC = 9, 10, 11, 12, 13, 14, 15
    FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = 16, 17, 18, 19


# Bytes of kind-specific data after the 12-byte common header: (fixed, per vlen item).
_EXTRA = {
    Kind.INT: (4, 0), Kind.ARRAY: (12, 0), Kind.STRUCT: (0, 12), Kind.UNION: (0, 12),
    Kind.ENUM: (0, 8), Kind.FUNC_PROTO: (0, 8), Kind.VAR: (4, 0), Kind.DATASEC: (0, 12),
    Kind.DECL_TAG: (4, 0), Kind.ENUM64: (0, 12),
}  # fmt: skip
_MODIFIERS = {Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG}


@dataclass(frozen=True)
class TypeInfo:
    id: int
    kind: int
    name: str
    vlen: int
    kind_flag: bool
    size_or_type: int
    data_off: int  # offset of the kind-specific data in the type section


@dataclass(frozen=True)
class Field:
    """One member of a struct, resolved through typedefs and qualifiers."""

    name: str
    offset: int  # bytes
    size: int  # bytes
    kind: int  # Kind.INT, Kind.ARRAY, Kind.STRUCT, ...
    signed: bool = False
    elem_size: int = 0  # arrays: element size; 0 otherwise
    nelems: int = 0
    is_char_array: bool = False
    type_id: int = 0
    bitfield_bits: int = 0  # non-zero for bitfields; offset is then in bits


@dataclass(frozen=True)
class StructLayout:
    name: str
    size: int
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")


class Btf:
    """Parsed BTF. Immutable after construction; safe to share."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 24:
            raise BadInput("BTF data is truncated")
        magic, _ver, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
        if magic != _MAGIC:
            raise BadInput("not BTF data (bad magic)")
        type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", data, 8)
        self.raw = bytes(data)  # as read: what a capture file keeps (no copy for bytes)
        self._types = memoryview(data)[hdr_len + type_off : hdr_len + type_off + type_len]
        self._strs = bytes(data[hdr_len + str_off : hdr_len + str_off + str_len])
        self._index: list[TypeInfo | None] = [None]  # type id 0 is void
        self._parse()

    @classmethod
    def from_elf(cls, path: str | Path) -> Btf:
        """The .BTF section of an ELF object. Parsed once per file version:
        a session, its decoder and its loader all ask for the same objects."""
        try:
            st = os.stat(path)
        except OSError as e:
            raise BadInput(f"{path}: {e.strerror}") from None
        return _elf_btf(str(path), st.st_mtime_ns, st.st_size)

    @classmethod
    def vmlinux(cls) -> Btf:
        return cls(VMLINUX.read_bytes())

    def _parse(self) -> None:
        t, off, tid = self._types, 0, 1
        while off < len(t):
            name_off, info, size_or_type = struct.unpack_from("<III", t, off)
            kind = (info >> 24) & 0x1F
            vlen = info & 0xFFFF
            self._index.append(
                TypeInfo(tid, kind, self._str(name_off), vlen, bool(info >> 31), size_or_type, off + 12)
            )
            fixed, per = _EXTRA.get(kind, (0, 0))
            off += 12 + fixed + per * vlen
            tid += 1

    def _str(self, off: int) -> str:
        end = self._strs.index(b"\0", off)
        return self._strs[off:end].decode()

    def __len__(self) -> int:
        return len(self._index) - 1

    def type(self, type_id: int) -> TypeInfo:
        info = self._index[type_id]
        if info is None:
            raise KeyError("type id 0 is void")
        return info

    def types(self) -> Iterator[TypeInfo]:
        for info in self._index[1:]:
            assert info is not None
            yield info

    @cached_property
    def _by_name(self) -> dict[tuple[str, int], int]:
        out: dict[tuple[str, int], int] = {}
        for info in self.types():
            if info.name:
                out.setdefault((info.name, info.kind), info.id)
        return out

    def find(self, name: str, kind: int) -> TypeInfo:
        try:
            return self.type(self._by_name[(name, kind)])
        except KeyError:
            raise KeyError(f"BTF has no {name!r} of kind {kind}") from None

    def has(self, name: str, kind: int) -> bool:
        return (name, kind) in self._by_name

    def resolve(self, type_id: int) -> TypeInfo:
        """Follow typedefs and qualifiers to the underlying type."""
        info = self.type(type_id)
        while info.kind in _MODIFIERS:
            info = self.type(info.size_or_type)
        return info

    def sizeof(self, type_id: int) -> int:
        info = self.resolve(type_id)
        if info.kind in (Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.FLOAT):
            return int(info.size_or_type)
        if info.kind == Kind.PTR:
            return 8
        if info.kind == Kind.ARRAY:
            elem, _idx, n = struct.unpack_from("<III", self._types, info.data_off)
            return self.sizeof(elem) * int(n)
        raise ValueError(f"type {info.name or info.id} (kind {info.kind}) has no size")

    def _int_signed(self, info: TypeInfo) -> bool:
        if info.kind == Kind.INT:
            (enc,) = struct.unpack_from("<I", self._types, info.data_off)
            return bool((enc >> 24) & 1)
        return info.kind in (Kind.ENUM, Kind.ENUM64) and info.kind_flag

    def _field(self, name: str, type_id: int, bit_off: int, bits: int) -> Field:
        info = self.resolve(type_id)
        if bits:
            return Field(name, bit_off, 0, info.kind, self._int_signed(info), bitfield_bits=bits)
        off, size = bit_off // 8, self.sizeof(type_id)
        if info.kind == Kind.ARRAY:
            elem, _idx, n = struct.unpack_from("<III", self._types, info.data_off)
            einfo = self.resolve(elem)
            is_char = einfo.kind == Kind.INT and einfo.name == "char"
            return Field(name, off, size, Kind.ARRAY, elem_size=self.sizeof(elem), nelems=n,
                         is_char_array=is_char, type_id=info.id)  # fmt: skip
        return Field(name, off, size, info.kind, self._int_signed(info), type_id=info.id)

    def members(self, info: TypeInfo) -> list[tuple[str, int, int, int]]:
        """(name, type id, bit offset, bitfield bits) of a struct or union."""
        out = []
        for i in range(info.vlen):
            name_off, mtype, moff = struct.unpack_from("<III", self._types, info.data_off + 12 * i)
            bits, bit_off = (moff >> 24, moff & 0xFFFFFF) if info.kind_flag else (0, moff)
            out.append((self._str(name_off), mtype, bit_off, bits))
        return out

    def struct_layout(self, name: str) -> StructLayout:
        try:
            info = self.find(name, Kind.STRUCT)
        except KeyError:
            info = self.find(name, Kind.UNION)
        fields = tuple(self._field(n, t, o, b) for n, t, o, b in self.members(info))
        return StructLayout(name, info.size_or_type, fields)

    def enum_values(self, name: str) -> dict[str, int]:
        if not self.has(name, Kind.ENUM) and self.has(name, Kind.ENUM64):
            return self._enum64_values(self.find(name, Kind.ENUM64))
        info = self.find(name, Kind.ENUM)
        out = {}
        for i in range(info.vlen):
            name_off, val = struct.unpack_from(
                "<Ii" if info.kind_flag else "<II", self._types, info.data_off + 8 * i
            )
            out[self._str(name_off)] = val
        return out

    def _enum64_values(self, info: TypeInfo) -> dict[str, int]:
        # btf_enum64: u32 name_off, u32 val_lo32, u32 val_hi32 (values such
        # as PERF_CONTEXT_KERNEL, (u64)-128, need the 64-bit kind).
        out = {}
        for i in range(info.vlen):
            name_off, lo, hi = struct.unpack_from("<III", self._types, info.data_off + 12 * i)
            val = hi << 32 | lo
            out[self._str(name_off)] = val - (1 << 64) if info.kind_flag and hi >> 31 else val
        return out

    def datasec(self, name: str) -> dict[str, tuple[int, int]]:
        """Variables of a data section (".rodata", ".bss"): name -> (offset, size)."""
        info = self.find(name, Kind.DATASEC)
        out = {}
        for i in range(info.vlen):
            var, off, size = struct.unpack_from("<III", self._types, info.data_off + 12 * i)
            out[self.type(var).name] = (off, size)
        return out

    def datasecs(self) -> list[str]:
        return [t.name for t in self.types() if t.kind == Kind.DATASEC]


@functools.lru_cache(maxsize=64)
def _elf_btf(path: str, mtime_ns: int, size: int) -> Btf:
    try:
        with open(path, "rb") as f:
            section = ELFFile(f).get_section_by_name(".BTF")
            if section is None:
                raise BadInput(f"{path}: no .BTF section (built without -g?)")
            return Btf(section.data())
    except OSError as e:
        raise BadInput(f"{path}: {e.strerror}") from None
