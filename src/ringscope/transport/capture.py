"""Replaying a recorded stream: a Reader over the polls a capture file holds.

A live stream's every poll is one PollRecord: the Runs the transport
drained, the kernel drop counters and skipped runs the stream read beside
them, and the clock it stamped loss records with. CaptureReader hands the
same Runs back, one recorded poll per drain, and answers the stream's
counter and clock reads from the poll it last handed on, so a Stream over it
makes the same Chunks, the same loss records and the same seq numbers as
the live one did. It is also the stream's KernelCounters and clock.

Pacing: `speed` 0 hands polls on as fast as they are asked for; 1 keeps
the recorded time between polls (2 twice as fast, ...). Demand: like the
kernel side, a capture produces nothing while nobody wants any type
(set_demand(False), which the hub's empty type mask means), so a server
replaying a capture waits for its first client.

Where the polls come from (a file, a list) is the caller's; close() calls
`on_close`. Not thread-safe: one consumer, as every Reader.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .base import Run, Window

__all__ = ["CaptureReader", "PollRecord"]


@dataclass(frozen=True, slots=True)
class PollRecord:
    """What one poll of a stream read. `drops` is the kernel's failed
    reserves by type code (cumulative); `skipped` the program runs it
    skipped, or None when the stream did not read them at this poll."""

    now_ns: int  # the stream's clock (CLOCK_MONOTONIC) when it read the counters
    runs: list[Run]
    drops: list[int]
    skipped: int | None = None
    flush: bool = False  # the last poll of a stream

    @property
    def events(self) -> int:
        return sum(r.count for r in self.runs)


class CaptureReader:
    """A Reader, KernelCounters and clock over recorded polls. See the
    module docstring. `size` is the recorded ring size (ring_fill)."""

    def __init__(
        self,
        polls: Iterator[PollRecord],
        *,
        size: int,
        speed: float = 0.0,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        if speed < 0:
            raise ValueError(f"bad replay speed {speed}")
        self.size = size
        self.speed = speed
        self.polls_read = 0
        self._polls = polls
        self._ahead: deque[PollRecord] = deque()
        self._ended = False  # the iterator is used up
        self._on_close = on_close
        self._demand = True
        self._now = 0
        self._drops: list[int] = []
        self._skipped = 0
        self._start: tuple[float, int] | None = None  # (wall time, recorded time) of the first poll
        self._efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._signalled = False
        self._update_fd()

    # -- what is ahead --

    def _peek(self, k: int) -> PollRecord | None:
        """The k-th poll not yet handed on (0: the next), read ahead from the source."""
        while len(self._ahead) <= k and not self._ended:
            try:
                self._ahead.append(next(self._polls))
            except StopIteration:
                self._ended = True
        return self._ahead[k] if len(self._ahead) > k else None

    def exhausted(self) -> bool:
        """True when at most one poll is left: the next drain is the last."""
        return self._peek(1) is None

    def finished(self) -> bool:
        """True when every poll has been handed on."""
        return self._peek(0) is None

    def _due_in(self) -> float | None:
        """Seconds until the next poll is due (<= 0: now); None when there is
        none or nobody wants it."""
        nxt = self._peek(0)
        if nxt is None or not self._demand:
            return None
        if self.speed == 0 or self._start is None:
            return 0.0
        wall0, rec0 = self._start
        return wall0 + (nxt.now_ns - rec0) / 1e9 / self.speed - time.monotonic()

    # -- Reader --

    def fileno(self) -> int:
        """An eventfd, readable while a poll is due (speed 1 polls that are
        due later are found by the caller's drain timer)."""
        return self._efd

    def wait(self, timeout: float) -> bool:
        """Sleep until the next poll is due, at most `timeout` seconds."""
        due = self._due_in()
        if due is not None and due <= 0:
            return True
        time.sleep(max(0.0, timeout if due is None else min(timeout, due)))
        due = self._due_in()
        return due is not None and due <= 0

    def gather(self, *, flush: bool = False) -> Window:
        """drain() as a Window (a capture stores Runs)."""
        return Window.of(self.drain(flush=flush))

    def drain(self, *, flush: bool = False) -> list[Run]:
        """The next recorded poll's Runs if it is due, else nothing."""
        due = self._due_in()
        if due is None or due > 0:
            self._update_fd()
            return []
        poll = self._ahead.popleft()
        if self._start is None:
            self._start = (time.monotonic(), poll.now_ns)
        self._now = poll.now_ns
        self._drops = poll.drops
        if poll.skipped is not None:
            self._skipped = poll.skipped
        self.polls_read += 1
        self._update_fd()
        return poll.runs

    def pending(self) -> int:
        nxt = self._peek(0)
        return 0 if nxt is None else min(self.size, sum(len(r.data) for r in nxt.runs))

    def close(self) -> None:
        if self._efd >= 0:
            os.close(self._efd)
            self._efd = -1
            if self._on_close is not None:
                self._on_close()

    # -- KernelCounters and clock, as of the last poll handed on --

    def drops_by_code(self) -> list[int]:
        return list(self._drops)

    def skipped_runs(self) -> int:
        return self._skipped

    def now_ns(self) -> int:
        return self._now

    # -- demand --

    def set_demand(self, wanted: bool) -> None:
        """Play (True) or hold (False). Holding keeps the recorded pace: the
        time held is not made up afterwards."""
        if wanted and not self._demand and self._start is not None and self.speed:
            nxt = self._peek(0)
            if nxt is not None:
                self._start = (time.monotonic(), nxt.now_ns)
        self._demand = wanted
        self._update_fd()

    def _update_fd(self) -> None:
        if self._efd < 0:
            return
        due = self._due_in()
        want = due is not None and due <= 0
        if want and not self._signalled:
            os.eventfd_write(self._efd, 1)
        elif not want and self._signalled:
            with contextlib.suppress(BlockingIOError):
                os.eventfd_read(self._efd)
        self._signalled = want
