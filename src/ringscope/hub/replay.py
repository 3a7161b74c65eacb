"""The replay window, and what a resuming client missed before it.

An SSE client that reconnects sends the last seq it saw (Last-Event-ID).
The window keeps the newest blocks (at least `max_events` events) so that
the events after that seq can be sent again. Blocks that leave the window
leave a small summary behind (seq range and type, or the loss record),
kept for the last SUMMARY_BLOCKS blocks, so that a gap before the window
is counted in the events the client's filter would have matched (when its
filter selects on types only) and the kernel and daemon losses inside the
gap still reach it. Not thread-safe: the hub's loop owns it."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass

from ..events.records import Lost
from .blocks import Block
from .filter import ClientFilter
from .loss import ClientLoss, merge_lost

__all__ = ["SUMMARY_BLOCKS", "Gap", "Replay"]

SUMMARY_BLOCKS = 16384  # ~100 bytes each: how far back a gap can still be counted


@dataclass(frozen=True, slots=True)
class Gap:
    """What a resuming client missed before the replay window."""

    loss: ClientLoss  # reason "replay-gap"; exact=False when its size is unknown
    lost: list[Lost]  # kernel and daemon loss records inside the gap, one per stage


class Replay:
    """The newest blocks, and summaries of older ones."""

    def __init__(self, max_events: int, summaries: int = SUMMARY_BLOCKS) -> None:
        self.max_events = max_events
        self.blocks: deque[Block] = deque()
        self.events = 0
        self.next_seq = 0  # the seq after the newest block
        # (seq0, count, events per type, loss record or None), oldest first
        self._old: deque[tuple[int, int, dict[str, int], Lost | None]] = deque(maxlen=summaries)

    def remember(self, block: Block) -> None:
        """Called for every block (the hot path): keep it lean."""
        count = block.count
        self.next_seq = block.seq0 + count
        blocks = self.blocks
        blocks.append(block)
        events = self.events + count
        while blocks and events - blocks[0].count >= self.max_events:
            old = blocks.popleft()
            events -= old.count
            self._old.append((old.seq0, old.count, old.type_counts(), old.lost))
        self.events = events

    @property
    def oldest_seq(self) -> int:
        return self.blocks[0].seq0 if self.blocks else self.next_seq

    def after(self, seq: int) -> Iterator[Block]:
        """The blocks in the window holding seqs after `seq`."""
        return (b for b in self.blocks if b.last_seq > seq)

    def gap(self, after: int, flt: ClientFilter) -> Gap | None:
        """What a client that saw everything up to `after` (and nothing
        since) missed before the window, or None if it missed nothing."""
        if after >= self.next_seq:
            loss = ClientLoss("replay-gap", exact=False)
            loss.note = (
                f"Last-Event-ID {after} is beyond this stream (next seq {self.next_seq}): server restarted?"
            )
            return Gap(loss, [])
        start, end = after + 1, self.oldest_seq
        if start >= end:
            return None
        by_type: Counter[str] = Counter()
        losses: dict[str, Lost] = {}
        split = False  # a block of several types only partly in the gap: how many of each is unknown
        for seq0, count, types, lost in reversed(self._old):
            if seq0 + count <= start:
                break
            if lost is not None:
                old = losses.get(lost.stage)
                losses[lost.stage] = lost if old is None else merge_lost(lost, old)
                continue
            inside = min(seq0 + count, end) - max(seq0, start)
            split = split or (len(types) > 1 and inside < count)
            for type_name, n in types.items():
                if flt.wants(type_name):
                    by_type[type_name] += n if len(types) > 1 else inside
        loss = ClientLoss("replay-gap", first_seq=start, last_seq=end - 1)
        reaches = bool(self._old) and self._old[0][0] <= start
        if not reaches:
            loss.exact, loss.note = False, "the gap is older than the server remembers"
        elif flt.selects_rows:
            loss.exact, loss.note = False, "the filter selects on fields the server no longer has"
        elif split:
            loss.exact, loss.note = False, "the gap starts inside a block of several event types"
        else:
            loss.count, loss.by_type = sum(by_type.values()), by_type
        return Gap(loss, list(losses.values()))
