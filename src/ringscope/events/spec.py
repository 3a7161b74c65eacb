"""What a stream event is made of: the BPF object and programs that produce
it, the C struct it is written as, and the Python touch-up of decoded rows
(per row for `rows()`, per column for the encoder).

An EventSpec is data plus a few hooks with do-nothing defaults. The decoder
calls the decode hooks (`layout`, `generic`, for events whose records share
one type code); the owner of the kernel objects (probes.py) calls the load
hooks (`configure` before load, `attach` after). A source with something
special to do overrides a hook in its own module (sources/), so nothing
above it asks which source it has."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from .._libbpf import BpfObject, Link
    from ..btf import Btf
    from .layout import EventLayout

Row = dict[str, Any]

__all__ = ["Column", "Columns", "EventSpec", "IntLists", "LoadOptions", "Lookup", "Nullable", "Row", "array"]


@dataclass(frozen=True, slots=True)
class Lookup:
    """A column of repeated values: row i holds `values[codes[i]]`. Each
    distinct value is converted (and later encoded) once, not once per row."""

    codes: np.ndarray
    values: list[Any]

    @classmethod
    def map(cls, keys: np.ndarray, fn: Callable[[Any], Any]) -> Lookup:
        """`fn(key)` for each row's key, calling `fn` once per distinct key."""
        if len(keys) and keys[0] == keys[-1] and bool((keys == keys[0]).all()):
            return cls(np.zeros(len(keys), np.intp), [fn(keys[0].item())])
        uniq, codes = np.unique(keys, return_inverse=True)
        return cls(codes.reshape(-1), [fn(k) for k in uniq.tolist()])


@dataclass(frozen=True, slots=True)
class IntLists:
    """A column whose row i is the list of the integers in values[i] (a 2-D
    integer array: every row has the same number of elements)."""

    values: np.ndarray


@dataclass(frozen=True, slots=True)
class Nullable:
    """A column of C strings (1-D `S<n>` array) where rows with `present`
    False hold None."""

    values: np.ndarray
    present: np.ndarray


Column = np.ndarray | Lookup | IntLists | Nullable | list[Any]
"""One field of every event of a chunk: a 1-D integer array (JSON ints), a
1-D bytes array `S<n>` (C strings, decoded like `rows()` does), a 2-D array
(each row's raw bytes, as hex), a Lookup, IntLists, Nullable strings, or one
Python value per row."""

Columns = dict[str, Column]
"""A chunk's fields in the order of its rows' keys."""


@dataclass(frozen=True)
class LoadOptions:
    """Session-wide settings a source may apply to its object before load."""

    syscall_id: int | None = None  # the syscall source: trace only this syscall number


@dataclass(frozen=True)
class EventSpec:
    """One stream event type. Immutable; compared by its data, not its hooks."""

    name: str  # stream name: "exec", "open", ...
    obj: str  # bpf/<obj>.bpf.c
    programs: tuple[str, ...]  # programs to load and attach for this event
    struct: str  # C struct in events.h
    enum: str  # enum rs_event_type member
    doc: str
    finish: Callable[[list[Row]], None] | None = field(default=None, compare=False)
    raw_fields: tuple[str, ...] = ()  # char arrays handed to `finish` as bytes
    # The same touch-up as `finish`, on whole columns (same keys, same order,
    # same values). Events with a `finish` but no `finish_columns` are
    # encoded from rows().
    finish_columns: Callable[[Columns], None] | None = field(default=None, compare=False)
    # Kernel features (names of features.Features fields) the programs need.
    requires: tuple[str, ...] = ()
    # Programs that make the same events from BTF tracepoints, which attach
    # without tracefs: loaded instead of `programs` by a tracer that cannot
    # read tracefs (CAP_BPF + CAP_PERFMON without root). Empty: `programs`
    # attach without tracefs already.
    btf_programs: tuple[str, ...] = ()
    # Capabilities beyond CAP_BPF + CAP_PERFMON that attaching needs.
    capabilities: tuple[int, ...] = ()

    # True when records of many specs share one type code and are told apart
    # by the cookie tag in the record (dynamic events: layout() per spec).
    tagged: ClassVar[bool] = False

    def layout(self, btf: Btf, code: int, stride: int) -> EventLayout:
        """The layout of this event's records that sit `stride` apart (tagged specs)."""
        raise TypeError(f"{self.name}: not a tagged event")

    def generic(self) -> EventSpec:
        """The spec that stands for every event sharing this one's type code
        (type masks and kernel drop counts are per code)."""
        return self

    def programs_for(self, tracefs: bool) -> tuple[str, ...]:
        """The programs to load: `btf_programs` when tracefs cannot be read."""
        return self.programs if tracefs or not self.btf_programs else self.btf_programs

    def describe(self) -> dict[str, Any]:
        """What a capture file keeps to make this spec again without the
        kernel or the probed files (JSON values; sources.rebuild reads it).
        A static event is its name: its layout comes from the stored BTF."""
        return {"name": self.name}

    def configure(self, obj: BpfObject, tag: int, opts: LoadOptions) -> None:
        """Set this event's part of `obj` up before it is loaded (rodata,
        attach targets). `tag` is the event's index in the session."""

    def attach(self, obj: BpfObject, tag: int, pid: int | None) -> Iterator[Link] | None:
        """Attach this event's programs of the loaded `obj`, yielding each
        link as it is made (the caller owns it from then on), or None to
        have the owner attach `programs` at their own sections (once each,
        however many events share them)."""
        return None


def array(cols: Columns, name: str) -> np.ndarray:
    """The numpy column `name` (for `finish_columns`, which must not write to it)."""
    col = cols[name]
    assert isinstance(col, np.ndarray), f"column {name} is not an array"
    return col
