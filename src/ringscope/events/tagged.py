"""Records of many events that share one type code (dynamic events:
tracepoints, uprobes, USDT, kprobes), told apart by the tag the kernel side
copies from the attach cookie into each record."""

from __future__ import annotations

import itertools

import numpy as np

from ..btf import Btf
from ..transport.base import RING_HDR_SIZE
from .layout import EventLayout
from .records import Chunk
from .spec import EventSpec

__all__ = ["TAG_MASK", "TaggedDecoder"]

TAG_MASK = 0xFFFF  # low bits of the attach cookie: the event's index in the session


class TaggedDecoder:
    """Splits the records of one shared type code by cookie tag into Chunks,
    keeping stream order. One per stream and code; not thread-safe."""

    def __init__(self, btf: Btf, code: int, struct: str) -> None:
        self.btf = btf
        self.code = code
        self._tag_off = RING_HDR_SIZE + btf.struct_layout(struct).field("cookie").offset
        self.specs: dict[int, EventSpec] = {}
        self._layouts: dict[tuple[int, int], EventLayout] = {}

    def add(self, tag: int, spec: EventSpec) -> None:
        self.specs[tag] = spec

    def _layout(self, tag: int, stride: int) -> EventLayout:
        key = (tag, stride)
        lay = self._layouts.get(key)
        if lay is None:
            lay = self._layouts[key] = self.specs[tag].layout(self.btf, self.code, stride)
        return lay

    def split(
        self, data: np.ndarray, stride: int
    ) -> list[tuple[EventLayout, EventSpec, np.ndarray, np.ndarray | None]]:
        """The records of `data` per tag, in stream order within each: (layout,
        spec, records, their indices in `data` or None for all). Unknown tags
        are left out. One numpy pass, however the tags alternate."""
        n = len(data) // stride
        tags = data[self._tag_off :].view(np.uint16)[:: stride // 2][:n] & TAG_MASK
        first = int(tags[0])
        groups = [(first, None)] if bool((tags == first).all()) else [
            (int(t), np.flatnonzero(tags == t)) for t in np.unique(tags)]  # fmt: skip
        out = []
        for tag, sel in groups:
            spec = self.specs.get(tag)
            lay = None if spec is None else self._layout(tag, stride)
            if spec is None or lay is None:
                continue
            recs = np.ndarray((n,), lay.ring_dtype(stride), data)
            out.append((lay, spec, recs if sel is None else recs[sel], sel))
        return out

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
        views: dict[int, tuple[EventLayout, EventSpec, np.ndarray] | None] = {}
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
