"""What every transport hands on, and the interface the pipeline reads it
through. The stream never asks which transport it has: a BPF ring buffer,
the per-CPU perf buffers or a capture file all look the same from here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["RING_HDR_SIZE", "Reader", "Run"]

RING_HDR_SIZE = 8  # struct bpf_ringbuf_hdr: u32 len, u32 pg_off; every Run slot starts with one


@dataclass(frozen=True, slots=True)
class Run:
    """`count` consecutive records of one length, `stride` bytes apart,
    copied out of the transport. Each slot starts with an 8-byte header
    (the ring buffer's own, or zeros in its shape), then the record."""

    stride: int
    data: np.ndarray  # uint8, count * stride bytes

    @property
    def count(self) -> int:
        return len(self.data) // self.stride


class Reader(Protocol):
    """A single-consumer source of Runs. Not thread-safe; one owner closes it.

    - fileno(): an fd that becomes readable when the producer wakes us
      (for event loops);
    - wait(timeout): sleep until woken or `timeout` seconds; True if there
      is something to drain;
    - drain(flush=False): every record available now, in stream order;
      flush=True for the last drain of a stream, when nothing more will be
      produced (a transport that holds records back to order them hands
      those on too);
    - pending(): bytes produced and not yet drained; `size` is the capacity
      they are measured against (the ring fill is their ratio);
    - close(): release the mappings; idempotent."""

    size: int

    def fileno(self) -> int: ...
    def wait(self, timeout: float) -> bool: ...
    def drain(self, *, flush: bool = False) -> list[Run]: ...
    def pending(self) -> int: ...
    def close(self) -> None: ...
