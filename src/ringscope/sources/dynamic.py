"""Events made at run time from a probe spec instead of a fixed C struct:
`tracepoint:SUBSYS:NAME` (or `SUBSYS:NAME`), `uprobe:BIN:FUNC`,
`uretprobe:BIN:FUNC`, `kprobe:FUNC`, `kretprobe:FUNC`, `fentry:FUNC`,
`fexit:FUNC`, `usdt:BIN:PROVIDER:NAME`.

A DynamicSpec is an EventSpec that also knows how to attach its shared
program (with the session's tag in the attach cookie) and the layout of its
records for a ring stride. Many dynamic events share one type code; the
DynamicDecoder splits their records by tag into ordinary Chunks, so
everything after the decoder sees the same items as for static events.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..btf import Btf
from ..errors import BadInput
from ..events.layout import RING_HDR_SIZE, EventLayout, flat_fields
from ..events.records import Chunk
from ..tracefs import TRACEPOINT_PREFIXES
from .spec import EventSpec

if TYPE_CHECKING:
    from .._libbpf import BpfObject, Link

__all__ = ["TAG_MASK", "DynamicDecoder", "DynamicSpec", "is_dynamic", "resolve"]

TAG_MASK = 0xFFFF  # low bits of the attach cookie: the event's index in the session


@dataclass(frozen=True, kw_only=True)
class DynamicSpec(EventSpec):
    """An event defined by a probe spec. Immutable; one per `-e` entry."""

    family: str = ""  # "tracepoint", "uprobe", ...: names the shared type in drop counts

    def prepare(self, obj: BpfObject, tag: int) -> None:
        """Configure `obj` before load (fentry targets). Default: nothing."""

    def attach(self, obj: BpfObject, tag: int, pid: int | None) -> Iterator[Link]:
        """Attach this event's program(s) of the loaded `obj`, yielding each
        link as it is made: the caller owns it from then on, so a failure
        on a later one still leaves the earlier ones with an owner to close them."""
        raise NotImplementedError

    def layout(self, btf: Btf, code: int, stride: int) -> EventLayout:
        """The layout of this event's records that sit `stride` apart in the ring."""
        raise NotImplementedError

    def generic(self) -> EventSpec:
        """The spec that stands for every event of this family (type masks, drops)."""
        return EventSpec(self.family, self.obj, self.programs, self.struct, self.enum, self.doc)


def header_fields(btf: Btf, struct: str) -> list[tuple[str, object, int]]:
    """The rs_header members of `struct` (flattened), as EventLayout fields."""
    names = {n for n, _, _ in flat_fields(btf, "rs_header")}
    return [f for f in flat_fields(btf, struct) if f[0] in names]


class DynamicDecoder:
    """Splits the records of one shared type code by cookie tag into Chunks,
    keeping stream order. One per stream and code; not thread-safe."""

    def __init__(self, btf: Btf, code: int, struct: str) -> None:
        self.btf = btf
        self.code = code
        self._tag_off = RING_HDR_SIZE + btf.struct_layout(struct).field("cookie").offset
        self.specs: dict[int, DynamicSpec] = {}
        self._layouts: dict[tuple[int, int], EventLayout] = {}

    def add(self, tag: int, spec: DynamicSpec) -> None:
        self.specs[tag] = spec

    def _layout(self, tag: int, stride: int) -> EventLayout:
        key = (tag, stride)
        lay = self._layouts.get(key)
        if lay is None:
            lay = self._layouts[key] = self.specs[tag].layout(self.btf, self.code, stride)
        return lay

    def chunks(self, data: np.ndarray, stride: int, seq0: int) -> list[Chunk]:
        """Chunks for `data` (records `stride` apart), numbered from seq0.
        Records with a tag this decoder does not know are left out."""
        n = len(data) // stride
        tags = data[self._tag_off :].view(np.uint16)[:: stride // 2][:n] & TAG_MASK
        if n == 1 or bool((tags == tags[0]).all()):
            bounds = [0, n]
        else:
            bounds = [0, *(np.flatnonzero(tags[1:] != tags[:-1]) + 1).tolist(), n]
        # Tags can alternate record by record (sys_enter_* with sys_exit_*):
        # one view of the whole run per tag, sliced per segment, keeps that
        # case cheap.
        views: dict[int, tuple[EventLayout, DynamicSpec, np.ndarray] | None] = {}
        out = []
        for (a, b), tag in zip(itertools.pairwise(bounds), tags[bounds[:-1]].tolist(), strict=True):
            if tag not in views:
                spec = self.specs.get(tag)
                lay = self._layout(tag, stride) if spec is not None else None
                views[tag] = None if spec is None or lay is None else (
                    lay, spec, np.ndarray((n,), lay.ring_dtype(stride), data))  # fmt: skip
            view = views[tag]
            if view is None:
                continue
            out.append(Chunk(view[0], view[1], seq0, view[2][a:b]))
            seq0 += b - a
        return out


_PREFIXES = {
    **dict.fromkeys(TRACEPOINT_PREFIXES, "tracepoint"),
    "uprobe": "uprobe", "u": "uprobe", "uretprobe": "uretprobe", "ur": "uretprobe",
    "kprobe": "kprobe", "k": "kprobe", "kretprobe": "kretprobe", "kr": "kretprobe",
    "fentry": "fentry", "f": "fentry", "fexit": "fexit", "fr": "fexit", "usdt": "usdt",
}  # fmt: skip


def is_dynamic(name: str) -> bool:
    """True for probe specs (they contain ':'); static events are bare names."""
    return ":" in name


def resolve(name: str) -> DynamicSpec:
    """Parse and check one probe spec. BadInput for malformed or unknown
    targets, NotSupported when this kernel cannot run the probe type."""
    from . import kprobe, tracepoint, uprobe, usdt  # they import this module

    kind, _, rest = name.strip().partition(":")
    family = _PREFIXES.get(kind)
    if family is None:
        # SUBSYS:NAME is a tracepoint (perf's spelling).
        if rest and ":" not in rest:
            return tracepoint.resolve(kind, rest)
        raise BadInput(f"malformed probe spec {name!r} (expected tracepoint:SUBSYS:NAME, uprobe:BIN:FUNC)")
    if family == "tracepoint":
        system, sep, tp = rest.partition(":")
        if not (system and sep and tp) or ":" in tp:
            raise BadInput(f"malformed tracepoint spec {name!r} (expected tracepoint:SUBSYS:NAME)")
        return tracepoint.resolve(system, tp)
    if family in ("uprobe", "uretprobe"):
        binary, sep, func = rest.rpartition(":")
        if not (binary and sep and func):
            raise BadInput(f"malformed probe spec {name!r} (expected {family}:BINARY:FUNCTION)")
        return uprobe.resolve(family, binary, func)
    if family == "usdt":
        parts = rest.rsplit(":", 2)
        if len(parts) != 3 or not all(parts):
            raise BadInput(f"malformed probe spec {name!r} (expected usdt:BINARY:PROVIDER:NAME)")
        return usdt.resolve(*parts)
    if not rest or ":" in rest:
        raise BadInput(f"malformed probe spec {name!r} (expected {family}:FUNCTION)")
    return kprobe.resolve(family, rest)
