"""Blocks of stream items and the bytes they encode to, made at most once
per format and shared by every client that wants them; Views are the part
of a block one client wants.

A Block is a run of stream items of one type (a Chunk), one loss record, or
a run of events of several interleaved types (a Mixed batch: type MIXED,
each event's own type from kinds(), counts per type from type_counts()).
Its NDJSON and SSE bytes come from the one encoder (ringscope.encode) the
first time any client needs them; a View of some of its events takes
slices of those shared bytes, one per run of consecutive positions.
Consumers that want one type at a time split a View with by_type()."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import encode
from ..events.mixed import Mixed
from ..events.records import Chunk, Item, Lost

__all__ = ["MIXED", "Block", "View"]

MIXED = "mixed"  # the type of a Block whose events are of several types


def _slices(blob: bytes, ends: np.ndarray, idx: np.ndarray) -> bytes:
    """The items at positions `idx` (ascending) of `blob`, whose items end
    at `ends`: one slice per run of consecutive positions."""
    if not len(idx):
        return b""
    starts = np.concatenate([[0], ends[:-1]])
    cut = np.flatnonzero(np.diff(idx) != 1) + 1
    first = idx[np.concatenate([[0], cut])]
    last = idx[np.concatenate([cut - 1, [len(idx) - 1]])]
    spans = zip(starts[first].tolist(), ends[last].tolist(), strict=True)
    return b"".join([blob[a:b] for a, b in spans])


def _ends(blob: bytes, newlines_per_item: int) -> np.ndarray:
    """Where each item of `blob` ends. No item holds a newline of its own
    beyond its framing: a newline in a JSON string is escaped."""
    nl = np.flatnonzero(np.frombuffer(blob, np.uint8) == ord("\n"))
    return nl[newlines_per_item - 1 :: newlines_per_item] + 1


class Block:
    """A run of stream items of consecutive seqs (a Chunk, a Mixed batch, or
    one loss record), encoded lazily and at most once per format. Not thread-safe."""

    __slots__ = ("_ends", "_kinds", "_lines", "cache", "chunk", "count", "is_event", "lost", "mixed", "seq0",
                 "type")  # fmt: skip

    def __init__(self, item: Item | Mixed) -> None:
        self.chunk: Chunk | None = item if isinstance(item, Chunk) else None
        self.mixed: Mixed | None = item if isinstance(item, Mixed) else None
        self.lost: Lost | None = item if isinstance(item, Lost) else None
        self.is_event = self.lost is None
        self._kinds: tuple[np.ndarray, list[str]] | None = None
        if isinstance(item, Chunk):
            self.type = item.spec.name
            self.seq0 = item.seq0
            self.count = len(item)
        elif isinstance(item, Mixed):
            names = {p.spec.name for p in item.parts}
            self.type = names.pop() if len(names) == 1 else MIXED
            self.seq0 = item.seq0
            self.count = len(item)
        else:
            self.type = "lost"
            self.seq0 = item.seq
            self.count = 1
        self._lines: list[bytes] | None = None
        self._ends: dict[str, np.ndarray] = {}
        self.cache: dict[Any, Any] = {}  # per-block results clients share (selections)

    @property
    def last_seq(self) -> int:
        return self.seq0 + self.count - 1

    def kinds(self) -> tuple[np.ndarray, list[str]]:
        """Each event's type, as an index into the list of names."""
        if self._kinds is None:
            if self.mixed is None or self.type != MIXED:
                self._kinds = (np.zeros(self.count, np.intp), [self.type])
            else:
                names = list(dict.fromkeys(p.spec.name for p in self.mixed.parts))
                codes = np.empty(self.count, np.intp)
                for part in self.mixed.parts:
                    codes[self.mixed.positions(part)] = names.index(part.spec.name)
                self._kinds = (codes, names)
        return self._kinds

    def type_counts(self, idx: np.ndarray | None = None) -> dict[str, int]:
        """Events per type, of all events or of those at positions `idx`."""
        if self.type != MIXED:
            return {self.type: self.count if idx is None else len(idx)}
        codes, names = self.kinds()
        counts = np.bincount(codes if idx is None else codes[idx], minlength=len(names)).tolist()
        return {t: n for t, n in zip(names, counts, strict=True) if n}

    def ndjson(self) -> bytes:
        """Every item as NDJSON, made on first use and shared."""
        blob: bytes | None = self.cache.get("ndjson")
        if blob is None:
            if self.chunk is not None:
                blob = encode.ndjson(self.chunk)
            elif self.mixed is not None:
                blob = encode.ndjson_mixed(self.mixed)
            else:
                assert self.lost is not None
                blob = encode.row_json(self.lost.row()) + b"\n"
            self.cache["ndjson"] = blob
        return blob

    def sse(self) -> bytes:
        """Every item as an SSE message (id: seq, event: type), made on first use."""
        blob: bytes | None = self.cache.get("sse")
        if blob is None:
            if self.chunk is not None:
                blob = encode.sse(self.chunk)
            elif self.mixed is not None:
                blob = encode.sse_mixed(self.mixed)
            else:
                blob = b"id: %d\nevent: lost\ndata: %s\n" % (self.seq0, self.ndjson())
            self.cache["sse"] = blob
        return blob

    def lines(self) -> list[bytes]:
        """One JSON object per item, without newline (WebSocket frames, batches)."""
        if self._lines is None:
            self._lines = self.ndjson()[:-1].split(b"\n")
        return self._lines

    def ndjson_of(self, idx: np.ndarray) -> bytes:
        """The NDJSON of the items at positions `idx` (ascending)."""
        return self._of("ndjson", self.ndjson(), 1, idx)

    def sse_of(self, idx: np.ndarray) -> bytes:
        """The SSE messages of the items at positions `idx` (ascending)."""
        return self._of("sse", self.sse(), 4, idx)

    def _of(self, fmt: str, blob: bytes, newlines: int, idx: np.ndarray) -> bytes:
        ends = self._ends.get(fmt)
        if ends is None:
            ends = self._ends[fmt] = _ends(blob, newlines)
        return _slices(blob, ends, idx)


@dataclass(frozen=True, slots=True)
class View:
    """The items of `block` one client wants: all of them (idx None) or the
    positions in `idx`."""

    block: Block
    idx: np.ndarray | None = None

    def __len__(self) -> int:
        return self.block.count if self.idx is None else len(self.idx)

    @property
    def is_event(self) -> bool:
        return self.block.is_event

    def seqs(self) -> np.ndarray:
        if self.idx is None:
            return np.arange(self.block.seq0, self.block.seq0 + self.block.count)
        return self.idx + self.block.seq0

    def type_counts(self) -> dict[str, int]:
        """This view's events per type."""
        return self.block.type_counts(self.idx)

    def by_type(self) -> dict[str, View]:
        """This view split into one view per event type (each in seq order)."""
        if self.block.type != MIXED:
            return {self.block.type: self}
        codes, names = self.block.kinds()
        idx = np.arange(self.block.count) if self.idx is None else self.idx
        of = codes[idx]
        return {t: View(self.block, idx[of == k]) for k, t in enumerate(names) if bool((of == k).any())}

    def positions(self) -> Iterable[int]:
        return range(self.block.count) if self.idx is None else self.idx.tolist()

    def first_seq(self) -> int:
        return self.block.seq0 if self.idx is None else self.block.seq0 + int(self.idx[0])

    def last_seq(self) -> int:
        return self.block.last_seq if self.idx is None else self.block.seq0 + int(self.idx[-1])

    def head(self, n: int) -> View:
        return View(self.block, np.arange(n) if self.idx is None else self.idx[:n])

    def tail(self, n: int) -> View:
        count = len(self)
        return View(self.block, np.arange(count - n, count) if self.idx is None else self.idx[count - n :])

    def ndjson(self) -> bytes:
        if self.idx is None:
            return self.block.ndjson()
        return self.block.ndjson_of(self.idx)

    def sse(self) -> bytes:
        if self.idx is None:
            return self.block.sse()
        return self.block.sse_of(self.idx)
