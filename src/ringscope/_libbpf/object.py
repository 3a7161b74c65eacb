"""Typed wrappers over libbpf objects: BpfObject owns its maps and programs;
Link owns one attachment. open -> configure (rodata, map sizes, reuse) ->
load -> attach. Every kernel object has exactly one owner with close()."""

from __future__ import annotations

import ctypes
import os
import struct
from collections.abc import Iterator
from pathlib import Path

from ..btf import Btf
from ..closing import Closing
from ..errors import AttachError, LoadError, VerifierError, error_from_errno
from . import _lib
from ._lib import lib

__all__ = ["BpfObject", "Link", "Map", "Program"]

MAP_TYPES = {
    "hash": 1, "array": 2, "perf_event_array": 4, "percpu_hash": 5, "percpu_array": 6, "stack_trace": 7,
    "ringbuf": 27,
}  # fmt: skip
_PERCPU = {5, 6, 10}  # PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH
_ENOENT = 2
_EINVAL = 22
_NO_BATCH = frozenset({_EINVAL, 95, 524})  # EINVAL, EOPNOTSUPP, ENOTSUPP: no batch ops for this map
_VERIFIER_LOG_START = "-- BEGIN PROG LOAD LOG --"


class Link(Closing):
    """One attachment of a program to a hook. Detaches on close()."""

    def __init__(self, ptr: int, what: str) -> None:
        self._ptr: int | None = ptr
        self.what = what

    def close(self) -> None:
        if self._ptr:
            lib.bpf_link__destroy(self._ptr)
            self._ptr = None


class Map(Closing):
    """A map inside a BpfObject (owned by it) or standalone (owns its fd).
    Keys and values are bytes; callers pack them with layouts from BTF."""

    def __init__(
        self, ptr: int | None, name: str, fd: int, key_size: int, value_size: int, map_type: int,
        max_entries: int = 0,
    ) -> None:  # fmt: skip
        self._ptr = ptr
        self._max_entries = max_entries
        self.name = name
        self._fd = fd
        self.key_size = key_size
        self.map_type = map_type
        self._owns_fd = ptr is None
        self.ncpus = lib.libbpf_num_possible_cpus() if map_type in _PERCPU else 1
        self.elem_size = value_size
        # per-CPU values are copied out as one 8-byte-aligned slot per possible CPU
        self.value_size = value_size if self.ncpus == 1 else ((value_size + 7) & ~7) * self.ncpus

    @classmethod
    def create(cls, kind: str, name: str, key_size: int, value_size: int, max_entries: int) -> Map:
        """A standalone map, shared between objects with reuse_map()."""
        t = MAP_TYPES[kind]
        fd = lib.bpf_map_create(t, name.encode(), key_size, value_size, max_entries, None)
        if fd < 0:
            raise error_from_errno(f"create {kind} map {name}", -fd)
        return cls(None, name, fd, key_size, value_size, t, max_entries)

    @property
    def max_entries(self) -> int:
        """Entries (for a ring buffer: its size in bytes), as configured now."""
        if self._ptr is not None:
            return int(lib.bpf_map__max_entries(self._ptr))
        return self._max_entries

    @property
    def fd(self) -> int:
        """The map fd, for mmap and for sharing between objects. Owned by this Map."""
        if self._fd < 0:
            assert self._ptr is not None
            self._fd = lib.bpf_map__fd(self._ptr)
        return self._fd

    def lookup(self, key: bytes) -> bytes | None:
        val = ctypes.create_string_buffer(self.value_size)
        if lib.bpf_map_lookup_elem(self.fd, key, val) < 0:
            if _lib.errno() == _ENOENT:
                return None
            raise error_from_errno(f"lookup in map {self.name}", _lib.errno())
        return val.raw

    def update(self, key: bytes, value: bytes, flags: int = 0) -> None:
        if lib.bpf_map_update_elem(self.fd, key, value, flags) < 0:
            raise error_from_errno(f"update map {self.name}", _lib.errno())

    def delete(self, key: bytes) -> bool:
        if lib.bpf_map_delete_elem(self.fd, key) < 0:
            if _lib.errno() == _ENOENT:
                return False
            raise error_from_errno(f"delete from map {self.name}", _lib.errno())
        return True

    def keys(self) -> Iterator[bytes]:
        key = ctypes.create_string_buffer(self.key_size)
        prev: bytes | None = None
        while lib.bpf_map_get_next_key(self.fd, prev, key) == 0:
            prev = key.raw
            yield prev

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        for k in list(self.keys()):
            v = self.lookup(k)
            if v is not None:
                yield k, v

    def dump(self) -> tuple[bytes, bytes, int]:
        """Every entry at once: (keys back to back, values back to back, n).
        One BPF_MAP_LOOKUP_BATCH per max_entries elements (Linux 5.6+), or
        get_next_key + lookup per key where the map type has no batch ops.
        Not a snapshot: entries programs update meanwhile may be old or new."""
        cap = max(1, self.max_entries)
        keys = ctypes.create_string_buffer(cap * self.key_size)
        vals = ctypes.create_string_buffer(cap * self.value_size)
        # The batch position is opaque to us (a bucket index for hash maps).
        tokens = [ctypes.create_string_buffer(max(8, self.key_size)) for _ in range(2)]
        parts: list[tuple[bytes, bytes]] = []
        total = 0
        while True:
            count = ctypes.c_uint32(cap)
            err = self._lookup_batch(tokens[0] if parts else None, tokens[1], keys, vals, count)
            if err and err != _ENOENT:
                if not parts and err in _NO_BATCH:
                    return self._dump_by_key()
                raise error_from_errno(f"batch lookup in map {self.name}", err)
            n = count.value
            parts.append(
                (ctypes.string_at(keys, n * self.key_size), ctypes.string_at(vals, n * self.value_size))
            )
            total += n
            if err == _ENOENT:  # the last batch (possibly empty)
                return b"".join(k for k, _ in parts), b"".join(v for _, v in parts), total
            ctypes.memmove(tokens[0], tokens[1], len(tokens[1]))

    def _lookup_batch(self, token_in: object, token_out: object, keys: object, vals: object,
                      count: ctypes.c_uint32) -> int:  # fmt: skip
        opts = _lib.MapBatchOpts(sz=ctypes.sizeof(_lib.MapBatchOpts))
        ret = lib.bpf_map_lookup_batch(self.fd, token_in, token_out, keys, vals, ctypes.byref(count),
                                       ctypes.byref(opts))  # fmt: skip
        return -int(ret) if ret < 0 else 0

    def _dump_by_key(self) -> tuple[bytes, bytes, int]:
        pairs = list(self.items())
        return b"".join(k for k, _ in pairs), b"".join(v for _, v in pairs), len(pairs)

    def percpu_values(self, key: bytes) -> list[bytes]:
        """Per-CPU map: the value on each possible CPU."""
        raw = self.lookup(key) or bytes(self.value_size)
        slot = (self.elem_size + 7) & ~7
        return [raw[i * slot : i * slot + self.elem_size] for i in range(self.ncpus)]

    def close(self) -> None:
        if self._owns_fd and self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class Program:
    """A program inside a BpfObject, owned by it. attach*() return Links the
    caller owns."""

    def __init__(self, ptr: int, obj_name: str) -> None:
        self._ptr = ptr
        self.name = lib.bpf_program__name(ptr).decode()
        self.section = lib.bpf_program__section_name(ptr).decode()
        self._obj_name = obj_name

    def set_autoload(self, on: bool) -> None:
        lib.bpf_program__set_autoload(self._ptr, on)

    @property
    def autoload(self) -> bool:
        return bool(lib.bpf_program__autoload(self._ptr))

    @property
    def fd(self) -> int:
        return int(lib.bpf_program__fd(self._ptr))

    def _attach(self, what: str, ptr: int | None) -> Link:
        if not ptr:
            err = _lib.errno() or 22
            e = error_from_errno(
                f"attach {self._obj_name}:{self.name} to {what}", err, _lib.log_capture.take()
            )
            raise AttachError(str(e)) if type(e) is LoadError else e
        return Link(ptr, what)

    def set_attach_target(self, func: str) -> None:
        """fentry/fexit: the kernel function to attach to (before load)."""
        ret = lib.bpf_program__set_attach_target(self._ptr, 0, func.encode())
        if ret < 0:
            raise error_from_errno(f"{self._obj_name}:{self.name}: set attach target {func}", -ret)

    def attach(self) -> Link:
        """Attach by section name (tp/..., raw_tp/..., tp_btf/...)."""
        return self._attach(self.section, lib.bpf_program__attach(self._ptr))

    def attach_tracepoint(self, category: str, name: str, cookie: int = 0) -> Link:
        opts = _lib.TracepointOpts(ctypes.sizeof(_lib.TracepointOpts), cookie)
        ptr = lib.bpf_program__attach_tracepoint_opts(
            self._ptr, category.encode(), name.encode(), ctypes.byref(opts)
        )
        return self._attach(f"tracepoint {category}:{name}", ptr)

    def attach_perf_event(self, perf_fd: int, cookie: int = 0) -> Link:
        opts = _lib.PerfEventOpts(ctypes.sizeof(_lib.PerfEventOpts), cookie)
        ptr = lib.bpf_program__attach_perf_event_opts(self._ptr, perf_fd, ctypes.byref(opts))
        return self._attach("perf event", ptr)

    def attach_uprobe(
        self,
        binary: str,
        offset: int,
        *,
        retprobe: bool = False,
        pid: int = -1,
        cookie: int = 0,
        ref_ctr_offset: int = 0,
    ) -> Link:
        """`ref_ctr_offset`: file offset of a USDT semaphore the kernel bumps while attached."""
        opts = _lib.UprobeOpts(ctypes.sizeof(_lib.UprobeOpts), ref_ctr_offset, cookie, retprobe, None)
        ptr = lib.bpf_program__attach_uprobe_opts(self._ptr, pid, binary.encode(), offset, ctypes.byref(opts))
        kind = "uretprobe" if retprobe else "uprobe"
        return self._attach(f"{kind} {binary}+{offset:#x}", ptr)

    def attach_kprobe(self, func: str, *, retprobe: bool = False, cookie: int = 0) -> Link:
        opts = _lib.KprobeOpts(ctypes.sizeof(_lib.KprobeOpts), cookie, 0, retprobe)
        ptr = lib.bpf_program__attach_kprobe_opts(self._ptr, func.encode(), ctypes.byref(opts))
        return self._attach(f"{'kretprobe' if retprobe else 'kprobe'} {func}", ptr)


class BpfObject(Closing):
    """One opened .bpf.o. Owns its programs and maps (not the Links made
    from them). Not thread-safe; use from one thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.name = self.path.name.removesuffix(".bpf.o")
        self.btf = Btf.from_elf(self.path)
        _lib.log_capture.take()
        try:
            self._ptr: int | None = _lib.check_ptr(lib.bpf_object__open_file(str(self.path).encode(), None))
        except OSError as e:
            raise LoadError(f"open {self.path}: {os.strerror(e.errno or 22)}") from None
        self.loaded = False
        self.maps = {m.name: m for m in self._maps()}
        self.programs = {p.name: p for p in self._programs()}

    @classmethod
    def open(cls, path: Path | str) -> BpfObject:
        return cls(Path(path))

    def _maps(self) -> Iterator[Map]:
        m = lib.bpf_object__next_map(self._ptr, None)
        while m:
            yield Map(
                m, lib.bpf_map__name(m).decode(), -1,
                lib.bpf_map__key_size(m), lib.bpf_map__value_size(m), lib.bpf_map__type(m),
            )  # fmt: skip
            m = lib.bpf_object__next_map(self._ptr, m)

    def _programs(self) -> Iterator[Program]:
        p = lib.bpf_object__next_program(self._ptr, None)
        while p:
            yield Program(p, self.name)
            p = lib.bpf_object__next_program(self._ptr, p)

    def map(self, name: str) -> Map:
        try:
            return self.maps[name]
        except KeyError:
            raise KeyError(f"{self.name}.bpf.o has no map {name!r}") from None

    def program(self, name: str) -> Program:
        try:
            return self.programs[name]
        except KeyError:
            raise KeyError(f"{self.name}.bpf.o has no program {name!r}") from None

    def _internal_map(self, section: str) -> Map:
        for name, m in self.maps.items():
            if name.endswith(section):
                return m
        raise KeyError(f"{self.name}.bpf.o has no {section} section")

    def set_rodata(self, **values: int | bytes) -> None:
        """Set `const volatile` globals before load. Ints are packed to the
        variable's size (little-endian); bytes are copied and zero-padded."""
        if self.loaded:
            raise RuntimeError("rodata is frozen after load")
        m = self._internal_map(".rodata")
        size = ctypes.c_size_t()
        base = lib.bpf_map__initial_value(m._ptr, ctypes.byref(size))
        # Offsets from libbpf's copy of the BTF, not self.btf (the raw .BTF
        # section): clang leaves every DATASEC variable at offset 0 in a .o,
        # and libbpf fills in the real offsets from the ELF symbol table at
        # open (btf_fixup_datasec). Writing at the raw offsets would put every
        # variable on top of the first one.
        raw_size = ctypes.c_uint32()
        raw = lib.btf__raw_data(lib.bpf_object__btf(self._ptr), ctypes.byref(raw_size))
        layout = Btf(ctypes.string_at(raw, raw_size.value)).datasec(".rodata")
        for name, value in values.items():
            if name not in layout:
                raise LoadError(
                    f"{self.name}.bpf.o has no rodata variable {name!r} (built from other sources?)"
                )
            off, vsize = layout[name]
            if isinstance(value, bytes):
                raw = value[:vsize].ljust(vsize, b"\0")
            else:
                fmt = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}[vsize]
                raw = struct.pack(fmt, value & ((1 << (8 * vsize)) - 1))
            ctypes.memmove(base + off, raw, vsize)

    def set_max_entries(self, map_name: str, n: int) -> None:
        if lib.bpf_map__set_max_entries(self.map(map_name)._ptr, n) < 0:
            raise LoadError(f"{self.name}: cannot size map {map_name} to {n}")

    def reuse_map(self, map_name: str, shared: Map) -> None:
        """Make this object's map `map_name` the same kernel map as `shared`."""
        ret = lib.bpf_map__reuse_fd(self.map(map_name)._ptr, shared.fd)
        if ret < 0:
            raise LoadError(f"{self.name}: cannot share map {map_name}: {os.strerror(-ret)}")

    def load(self) -> None:
        _lib.log_capture.take()
        ret = lib.bpf_object__load(self._ptr)
        if ret < 0:
            err, log = -ret, _lib.log_capture.take()
            what = f"load {self.path.name}"
            # The verifier answers EACCES or EINVAL and libbpf then prints its
            # log; an EPERM/EACCES without a log is a missing privilege.
            if _VERIFIER_LOG_START in log:
                first = _first_verifier_line(log)
                raise VerifierError(f"{what}: verifier rejected the program: {first}", log)
            raise error_from_errno(what, err, log)
        self.loaded = True

    def close(self) -> None:
        if self._ptr:
            lib.bpf_object__close(self._ptr)
            self._ptr = None


def _first_verifier_line(log: str) -> str:
    """The verifier's verdict: the last line of its log before the stats."""
    body = log.split(_VERIFIER_LOG_START, 1)[-1].split("-- END PROG LOAD LOG --", 1)[0]
    lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if not ln.startswith(("processed ", "verification time", "stack depth", "libbpf:")):
            return ln[:200]
    return "see the log"
