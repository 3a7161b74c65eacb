"""The spool: messages that could not wait in memory while NATS was slow or
down, on disk in order, replayed oldest first once it is back.

A spool is a directory of segment files, each a capture file (capture/
format.py) of MESSAGE blocks: u32 event count, u16 subject, u16 msg id and
u16 type lengths, the three strings, then the payload. Segments let the
oldest messages go without rewriting a file: when the spool holds more than
its byte limit, its oldest segment is deleted and the events in it that
were not taken yet are returned as lost (the `export` loss stage). A
segment is deleted once every message in it is taken, so an idle exporter
leaves an empty directory.

Segments left by a run that died are read at open (a torn last block, from
a kill mid-write, is skipped and counted in `torn`) and replayed first:
their message ids make a replay of what was already stored a duplicate.
Not thread-safe: the queue (queue.py) calls it under its lock."""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..capture.format import BlockReader, BlockWriter, Kind
from ..errors import BadInput, RingscopeError
from .message import Message

__all__ = ["Spool"]

HEAD = struct.Struct("<IHHH")
SUFFIX = ".rsspool"
MAX_SEGMENT = 8 << 20  # bytes: a quarter of the limit, at most this


def pack(msg: Message) -> bytes:
    s, i, t = msg.subject.encode(), msg.msg_id.encode(), msg.type_name.encode()
    return HEAD.pack(msg.count, len(s), len(i), len(t)) + s + i + t + msg.payload


def unpack(data: bytes) -> Message:
    if len(data) < HEAD.size:
        raise ValueError("short message block")
    count, ls, li, lt = HEAD.unpack_from(data)
    at = HEAD.size
    s, i, t = data[at : at + ls], data[at + ls : at + ls + li], data[at + ls + li : at + ls + li + lt]
    if len(s) + len(i) + len(t) != ls + li + lt:
        raise ValueError("short message block")
    return Message(s.decode(), i.decode(), t.decode(), count, data[at + ls + li + lt :])


@dataclass(eq=False)
class Segment:
    path: Path
    bytes: int = 0
    events: int = 0  # not yet taken
    messages: int = 0  # not yet taken
    reader: BlockReader | None = None
    rfh: BinaryIO | None = None

    def close(self) -> None:
        if self.rfh is not None:
            self.rfh.close()
            self.rfh = self.reader = None


class Spool:
    """A bounded on-disk FIFO of messages in `directory` (created if missing)."""

    def __init__(self, directory: str, limit: int) -> None:
        self.dir = Path(directory)
        self.limit = limit
        self.segment_bytes = max(4096, min(MAX_SEGMENT, limit // 4))
        self.segments: deque[Segment] = deque()
        self.torn = 0  # torn blocks skipped in segments left by an earlier run
        self.unreadable = 0  # events in spooled blocks that could not be read back (lost)
        self._writer: BlockWriter | None = None
        self._wfh: BinaryIO | None = None
        self._next = 0
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._recover()
        except OSError as e:
            raise RingscopeError(f"export spool {directory}: {e.strerror or e}") from None

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.segments)

    @property
    def events(self) -> int:
        return sum(s.events for s in self.segments)

    @property
    def messages(self) -> int:
        return sum(s.messages for s in self.segments)

    def __len__(self) -> int:
        return self.messages

    def _recover(self) -> None:
        for path in sorted(self.dir.glob(f"*{SUFFIX}")):
            self._next = max(self._next, int(path.stem) + 1) if path.stem.isdigit() else self._next
            seg = Segment(path, path.stat().st_size)
            try:
                with path.open("rb") as fh:
                    reader = BlockReader(fh, str(path))
                    for block in reader:
                        if not block.complete:
                            self.torn += 1
                        elif block.kind == Kind.MESSAGE:
                            seg.messages += 1
                            seg.events += unpack(block.payload).count
            except (BadInput, ValueError):
                self.torn += 1  # unreadable from some block on: what was before it still replays
            if seg.messages:
                self.segments.append(seg)
            else:
                path.unlink()

    def put(self, msg: Message) -> int:
        """Append `msg`; returns the events dropped (oldest first) to stay
        within the limit."""
        if self._writer is None:
            self._open_segment()
        assert self._writer is not None
        seg = self.segments[-1]
        data = pack(msg)
        self._writer.write(Kind.MESSAGE, data)
        seg.bytes = self._writer.bytes_written
        seg.messages += 1
        seg.events += msg.count
        if seg.bytes >= self.segment_bytes:
            self._close_writer()
        return self._trim()

    def _open_segment(self) -> None:
        path = self.dir / f"{self._next:012d}{SUFFIX}"
        self._next += 1
        self._wfh = path.open("wb")
        self._writer = BlockWriter(self._wfh, compress=False)
        self._writer.write_file_header()
        self.segments.append(Segment(path, self._writer.bytes_written))

    def _close_writer(self) -> None:
        if self._wfh is not None:
            self._wfh.close()
        self._wfh = self._writer = None

    def _trim(self) -> int:
        lost = 0
        while self.bytes > self.limit and self.segments:
            seg = self.segments[0]
            if len(self.segments) == 1:
                self._close_writer()  # one message bigger than the whole limit
            lost += seg.events
            self._drop(seg)
        return lost

    def _drop(self, seg: Segment) -> None:
        seg.close()
        self.segments.remove(seg)
        seg.path.unlink(missing_ok=True)

    def take(self) -> Message | None:
        """The oldest message, removed from the spool (None if it is empty)."""
        while self.segments:
            seg = self.segments[0]
            msg = self._read(seg) if seg.messages else None
            if msg is not None:
                seg.messages -= 1
                seg.events -= msg.count
                if not seg.messages and (len(self.segments) > 1 or self._writer is None):
                    self._drop(seg)
                elif not seg.messages:  # the segment being written, read to its end
                    self._close_writer()
                    self._drop(seg)
                return msg
            self.unreadable += seg.events  # a segment whose remaining blocks cannot be read
            self._drop(seg)
        return None

    def _read(self, seg: Segment) -> Message | None:
        if seg.reader is None:
            seg.rfh = seg.path.open("rb")
            seg.reader = BlockReader(seg.rfh, str(seg.path))
        try:
            for block in seg.reader:
                if block.kind == Kind.MESSAGE and block.complete:
                    return unpack(block.payload)
        except (BadInput, ValueError):
            pass
        return None

    def close(self) -> None:
        """Close the files; what is left stays on disk for the next run."""
        self._close_writer()
        for seg in self.segments:
            seg.close()
