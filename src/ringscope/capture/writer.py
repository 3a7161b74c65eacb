"""Writing a capture file while a stream runs: a stream Tap that appends
every poll (its Runs as drained, the kernel counters and the clock) to
POLLS blocks, after the description (META, then each object's BTF).

A block is written when it holds BLOCK_BYTES, or BLOCK_SECONDS after its
first poll, or at close: a reader (or a crash) sees the file whole up to
the last block written, and a killed writer loses at most that much.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, Protocol

from ..btf import Btf
from ..errors import RingscopeError
from ..events.spec import EventSpec
from ..filters import Filter
from ..transport.capture import PollRecord
from .format import BlockBuilder, BlockWriter, Kind
from .meta import make_meta
from .polls import PollEncoder

__all__ = ["BLOCK_BYTES", "BLOCK_SECONDS", "CaptureWriter", "Captured"]


class Captured(Protocol):
    """What the description of a capture is made from (an open Session)."""

    specs: list[EventSpec]
    filter: Filter

    @property
    def transport(self) -> str | None: ...
    @property
    def ring_size(self) -> int: ...
    @property
    def wakeup_bytes(self) -> int: ...
    def btfs(self) -> dict[str, Btf]: ...


BLOCK_BYTES = 1 << 20  # raw bytes per POLLS block: zstd's window sees enough to compress well
BLOCK_SECONDS = 0.5  # at most this much of a live run waits in memory


class CaptureWriter:
    """Appends a stream to a capture file. open() creates the file, begin()
    writes the description, polled() (the Tap) each poll, close() the last
    block and END. Owns the file. Not thread-safe: the polling thread calls it.
    Errors writing are RingscopeError naming the file (exit 1)."""

    def __init__(self, fh: BinaryIO, path: str, *, compress: bool = True) -> None:
        self.path = path
        self._fh = fh
        self._out = BlockWriter(fh, compress=compress)
        self._polls = PollEncoder()
        self._block: BlockBuilder | None = None
        self._block_since = 0.0
        self.polls = 0
        self.events = 0
        self.raw_bytes = 0  # poll records before compression

    @classmethod
    def open(cls, path: str, *, compress: bool = True) -> CaptureWriter:
        """Create (or truncate) `path`. RingscopeError if it cannot be written."""
        try:
            fh = open(path, "wb")  # noqa: SIM115 (owned by the writer)
        except OSError as e:
            raise RingscopeError(f"cannot write {path}: {e.strerror}") from None
        return cls(fh, path, compress=compress)

    @property
    def bytes_written(self) -> int:
        return self._out.bytes_written

    def begin_session(self, session: Captured) -> None:
        """begin() with the description of an open session."""
        btfs = session.btfs()
        meta = make_meta(session.specs, list(btfs), transport=session.transport, ring_size=session.ring_size,
                         wakeup_bytes=session.wakeup_bytes, filter=session.filter)  # fmt: skip
        self.begin(meta, btfs)

    def begin(self, meta: dict[str, Any], btfs: dict[str, Btf]) -> None:
        """The file header and the description: META, then the BTF of each
        object in `meta["objects"]` order."""
        with self._errors():
            self._out.write_file_header()
            self._out.write(Kind.META, json.dumps(meta, separators=(",", ":")).encode())
            for name in meta["objects"]:
                self._out.write(Kind.BTF, name.encode() + b"\0" + btfs[name].raw)

    def polled(self, poll: PollRecord) -> None:
        """The stream's Tap: add this poll to the block, write it when due."""
        if self._block is None:
            self._block = self._out.block()
            self._block_since = time.monotonic()
        parts: list[bytes | memoryview] = []
        self._polls.encode(poll, parts)
        self._block.add(parts)  # compressed now: the copy of the Runs is not kept
        self.polls += 1
        self.events += poll.events
        if self._block.raw_len >= BLOCK_BYTES or time.monotonic() - self._block_since >= BLOCK_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the polls added so far as one POLLS block."""
        block, self._block = self._block, None
        if block is None:
            return
        self.raw_bytes += block.raw_len
        with self._errors():
            self._out.finish(Kind.POLLS, block)

    def close(self) -> None:
        """The last block, END with the totals, and the file. Idempotent."""
        if self._fh.closed:
            return
        try:
            self.flush()
            end = {"polls": self.polls, "events": self.events, "raw_bytes": self.raw_bytes,
                   "closed_unix_ns": time.time_ns()}  # fmt: skip
            with self._errors():
                self._out.write(Kind.END, json.dumps(end).encode())
        finally:
            try:
                self._fh.close()
            except OSError as e:
                raise RingscopeError(f"cannot write {self.path}: {e.strerror}") from None

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """OSError while writing -> RingscopeError naming the capture file."""
        try:
            yield
        except OSError as e:
            raise RingscopeError(f"cannot write {self.path}: {e.strerror}") from None
