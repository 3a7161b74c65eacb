"""A capture file as the producer of a Session: what probes.py is to a live
session (the kernel objects, the reader, the drop counters), made from the
file, so the same Stream, decoder, encoder, hub and server run over it.

Nothing here needs privilege: no program is loaded, tracefs and the probed
binaries are not read. The in-kernel filter has nothing to act on; its
type mask is the demand (an empty one holds the replay, as the hub writes
when no client is connected). Not thread-safe: one thread drives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..btf import Btf
from ..events.spec import EventSpec
from ..filters import Filter
from ..transport.capture import CaptureReader
from .reader import CaptureFile

if TYPE_CHECKING:
    from .._libbpf import BpfObject, Link

__all__ = ["Replay"]


class Replay:
    """Reads `path` at `speed` (0: as fast as polled; 1: the recorded pace).
    The description is read (and checked) here; open() starts the reader."""

    def __init__(self, path: str | Path, *, speed: float = 0.0) -> None:
        self.file = CaptureFile.open(path)
        meta = self.file.meta
        self.specs: list[EventSpec] = list(meta.specs)
        self.speed = speed
        self.transport = meta.transport
        self.ring_size = meta.ring_size
        self.wakeup_bytes = meta.wakeup_bytes
        self.objects: dict[str, BpfObject] = {}  # no kernel objects
        self.links: list[Link] = []
        self.reader: CaptureReader | None = None
        self.filter: Filter | None = None

    def open(self, helpers: Sequence[EventSpec] = ()) -> None:
        if self.reader is None:
            self.reader = CaptureReader(
                self.file.polls(), size=self.ring_size, speed=self.speed, on_close=self.file.close
            )

    def btfs(self) -> dict[str, Btf]:
        """Each object's BTF, by name, in the order the live decoder had them."""
        return {name: self.file.btfs[name] for name in self.file.meta.objects}

    def attach(self) -> None:
        pass

    def detach(self) -> None:
        pass

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
        else:
            self.file.close()

    def type_codes(self) -> dict[str, int]:
        enum = next(iter(self.btfs().values())).enum_values("rs_event_type")
        return {s.generic().name: enum[s.enum] for s in self.specs}

    def set_filter(self, flt: Filter, type_mask: int) -> None:
        self.filter = flt
        if self.reader is not None:
            self.reader.set_demand(type_mask != 0)

    def follow(self, pid: int) -> None:
        pass  # the processes were followed when the capture was made

    def drops_by_code(self) -> list[int]:
        return [] if self.reader is None else self.reader.drops_by_code()

    def skipped_runs(self) -> int:
        return 0 if self.reader is None else self.reader.skipped_runs()

    def now_ns(self) -> int:
        return 0 if self.reader is None else self.reader.now_ns()

    def exhausted(self) -> bool:
        return self.reader is not None and self.reader.exhausted()

    @property
    def truncated(self) -> str | None:
        return self.file.truncated
