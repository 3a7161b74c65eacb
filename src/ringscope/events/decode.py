"""Runs of raw ring records -> typed Chunks, numbered in stream order; or a
Window of them -> one Mixed batch (events/mixed.py)."""

from __future__ import annotations

import itertools

import numpy as np

from ..btf import Btf
from ..transport.base import RING_HDR_SIZE, Run, Window
from .layout import EventLayout
from .mixed import Mixed
from .records import Chunk
from .spec import EventSpec
from .tagged import TaggedDecoder

__all__ = ["Decoder"]


class Decoder:
    """Splits runs by event type and numbers events. Holds the stream seq;
    one per stream, not thread-safe."""

    def __init__(self, btfs: list[Btf], specs: list[EventSpec]) -> None:
        self.by_code: dict[int, tuple[EventLayout, EventSpec]] = {}
        # Tagged events (tracepoint:..., uprobe:...) share a type code and
        # are told apart by the cookie tag, their index in `specs`.
        self.tagged: dict[int, TaggedDecoder] = {}
        for tag, spec in enumerate(specs):
            btf = next((b for b in btfs if b.has(spec.struct, 4)), None)
            if btf is None:
                raise KeyError(f"no BPF object describes struct {spec.struct}")
            code = btf.enum_values("rs_event_type")[spec.enum]
            if spec.tagged:
                self.tagged.setdefault(code, TaggedDecoder(btf, code, spec.struct)).add(tag, spec)
                spec = spec.generic()
            self.by_code[code] = (EventLayout.from_btf(btf, spec.name, code, spec.struct), spec)
        hdr = btfs[0].struct_layout("rs_header").field("type")
        self._type_off = RING_HDR_SIZE + hdr.offset
        self.next_seq = 0
        self.unknown = 0  # records of a type this decoder was not built for

    def chunks(self, run: Run) -> list[Chunk]:
        stride = run.stride
        codes = run.data[self._type_off :].view(np.uint32)[:: stride // 4][: run.count]
        if run.count == 1 or (codes[0] == codes[-1] and bool((codes == codes[0]).all())):
            bounds = [0, run.count]
        else:
            bounds = [0, *(np.flatnonzero(codes[1:] != codes[:-1]) + 1).tolist(), run.count]
        out = []
        for a, b in itertools.pairwise(bounds):
            tagged = self.tagged.get(int(codes[a])) if self.tagged else None
            if tagged is not None:
                made = tagged.chunks(run.data[a * stride : b * stride], stride, self.next_seq)
                n = sum(len(c) for c in made)
                self.unknown += b - a - n
                self.next_seq += n
                out.extend(made)
                continue
            entry = self.by_code.get(int(codes[a]))
            if entry is None:
                self.unknown += b - a
                continue
            layout, spec = entry
            recs = np.ndarray((b - a,), layout.ring_dtype(stride), run.data, offset=a * stride)
            out.append(Chunk(layout, spec, self.next_seq, recs))
            self.next_seq += b - a
        return out

    def mixed(self, window: Window) -> Mixed:
        """The window's events as one Mixed batch, numbered from next_seq in
        stream order: one part per type (and record length), split with one
        numpy pass per length. Records of a type this decoder was not built
        for are counted in `unknown` and take no seq."""
        found: list[_Found] = []
        for run, idx in zip(window.groups, window.index, strict=True):
            found += self._gathered(run, idx)
        n = sum(len(pos) for *_, pos in found)
        if n < window.count:  # the undecodable leave no gap in the seqs
            self.unknown += window.count - n
            known = np.zeros(window.count, bool)
            for *_, pos in found:
                known[pos] = True
            rank = np.cumsum(known) - 1
            found = [(lay, spec, recs, rank[pos]) for lay, spec, recs, pos in found]
        seq0 = self.next_seq
        self.next_seq += n
        parts = [Chunk(lay, spec, seq0 + int(pos[0]), recs, pos + seq0) for lay, spec, recs, pos in found]
        parts.sort(key=lambda c: c.seq0)
        return Mixed(seq0, n, parts)

    def _gathered(self, run: Run, idx: np.ndarray) -> list[_Found]:
        """The records of one length split by type code (then by tag)."""
        stride = run.stride
        codes = run.data[self._type_off :].view(np.uint32)[:: stride // 4][: run.count]
        out: list[_Found] = []
        for code, sel in _groups(codes):
            data = run.data if sel is None else run.data.reshape(-1, stride)[sel].reshape(-1)
            pos = idx if sel is None else idx[sel]
            tagged = self.tagged.get(code) if self.tagged else None
            if tagged is not None:
                for lay, spec, recs, tsel in tagged.split(data, stride):
                    out.append((lay, spec, recs, pos if tsel is None else pos[tsel]))
                continue
            entry = self.by_code.get(code)
            if entry is not None:
                layout, spec = entry
                out.append((layout, spec, np.ndarray((len(pos),), layout.ring_dtype(stride), data), pos))
        return out

    def take_seq(self) -> int:
        seq = self.next_seq
        self.next_seq += 1
        return seq


_Found = tuple[EventLayout, EventSpec, np.ndarray, np.ndarray]  # layout, spec, records, positions


def _groups(keys: np.ndarray) -> list[tuple[int, np.ndarray | None]]:
    """Each distinct key with the indices that hold it (None: all of them)."""
    first = int(keys[0])
    if bool((keys == first).all()):
        return [(first, None)]
    return [(int(k), np.flatnonzero(keys == k)) for k in np.unique(keys)]
