"""Which transport carries records from the BPF programs to the reader:
the BPF ring buffer (default) or the perf buffer (the fallback for kernels
before 5.8, and for comparison; see docs/transports.md)."""

from __future__ import annotations

from ..errors import BadInput, NotSupported
from ..features import Features

__all__ = ["TRANSPORTS", "choose_transport"]

TRANSPORTS = ("ringbuf", "perfbuf")


def choose_transport(requested: str | None, feats: Features) -> str:
    """`requested` (None: automatic) checked against what this kernel has.
    Automatic picks ringbuf, or perfbuf when the kernel has no ringbuf."""
    if requested is not None and requested not in TRANSPORTS:
        raise BadInput(f"unknown transport {requested!r} (expected {' or '.join(TRANSPORTS)})")
    if requested == "perfbuf":
        return "perfbuf"
    if feats.ringbuf.available:
        return "ringbuf"
    if requested == "ringbuf":
        raise NotSupported(f"not supported by this kernel: {feats.ringbuf.reason} (try --transport perfbuf)")
    if not feats.perf_events.available:
        raise NotSupported(f"no transport: {feats.ringbuf.reason}, and {feats.perf_events.reason}")
    return "perfbuf"
