"""Reading a capture file: its description (META and the objects' BTF),
then its poll records in order, then how it ended (END, or where a partial
block cut it short)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..btf import Btf
from ..closing import Closing
from ..errors import BadInput
from ..transport.capture import PollRecord
from .format import Block, BlockReader, Kind
from .meta import Meta
from .polls import PollDecoder

__all__ = ["CaptureFile"]


class CaptureFile(Closing):
    """An open capture file. open() reads and checks the description; polls()
    then reads the records, once, in order. Owns the file: close() (or the
    context manager) closes it. Not thread-safe."""

    def __init__(self, fh: BinaryIO, name: str) -> None:
        self.name = name
        self._fh = fh
        self._blocks = BlockReader(fh, name)
        self._iter = iter(self._blocks)
        self.btfs: dict[str, Btf] = {}
        self.end: dict[str, Any] | None = None  # the END block: the writer closed cleanly
        self.polls_read = 0
        self._first: Block | None = None
        self.meta = self._read_description()

    @classmethod
    def open(cls, path: str | Path) -> CaptureFile:
        try:
            fh = open(path, "rb")  # noqa: SIM115 (owned by the CaptureFile)
        except OSError as e:
            raise BadInput(f"cannot read {path}: {e.strerror}") from None
        try:
            return cls(fh, str(path))
        except BaseException:
            fh.close()
            raise

    def _read_description(self) -> Meta:
        meta: Meta | None = None
        for block in self._iter:
            if not block.complete and block.kind != Kind.POLLS:
                break
            if block.kind == Kind.META and meta is None:
                meta = Meta.parse(block.payload, self.name)
            elif block.kind == Kind.BTF:
                name, _, raw = block.payload.partition(b"\0")
                self.btfs[name.decode(errors="replace")] = self._btf(raw, block.offset)
            elif block.kind in (Kind.POLLS, Kind.END):
                self._first = block
                break
        missing = [] if meta is None else [o for o in meta.objects if o not in self.btfs]
        if self._blocks.truncated and (meta is None or missing):
            raise BadInput(f"{self._blocks.truncated}, before the end of its description")
        if meta is None:
            raise BadInput(f"{self.name}: capture has no description (META block)")
        if missing or not meta.objects:
            raise BadInput(f"{self.name}: capture lacks the BTF of {', '.join(missing) or 'any object'}")
        return meta

    def _btf(self, raw: bytes, at: int) -> Btf:
        try:
            return Btf(raw)
        except (BadInput, ValueError, IndexError, KeyError, UnicodeDecodeError) as e:
            raise BadInput(f"{self.name}: corrupt capture: BTF block at byte {at}: {e}") from None

    @property
    def truncated(self) -> str | None:
        """Where the file stops inside a block, once polls() got there."""
        return self._blocks.truncated

    def polls(self) -> Iterator[PollRecord]:
        decoder = PollDecoder(self.name)
        block, self._first = self._first, None
        while block is not None:
            if block.kind == Kind.POLLS:
                for poll in decoder.decode(block.payload, block.offset, complete=block.complete):
                    self.polls_read += 1
                    yield poll
            elif block.kind == Kind.END:
                self.end = _json(block.payload)
            block = next(self._iter, None)

    def close(self) -> None:
        self._fh.close()


def _json(payload: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(payload)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}
