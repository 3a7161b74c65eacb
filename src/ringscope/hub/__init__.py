"""One reader -> many clients, in a few concepts:
- blocks.py: blocks of stream items and the encoded bytes clients share;
- subscriber.py (with filter.py and loss.py): one client's bounded queue,
  its filter, its back-pressure policy and why it missed what it missed;
- replay.py: the replay window for resuming clients, and the gap before it;
- stats.py: totals kept the way Prometheus wants them;
- fanout.py: the Hub, which drains the session once per wakeup, offers every
  block to every subscriber and narrows the kernel side to what the clients
  want."""

from .blocks import Block, View
from .fanout import BLOCK_MAX, DEFAULT_REPLAY, Hub, HubSession
from .filter import ClientFilter
from .loss import BACKPRESSURE, REASONS, ClientLoss, Reason
from .replay import Replay
from .stats import BATCH_BUCKETS, Histogram, HubStats
from .subscriber import (
    DEFAULT_CLIENT_QUEUE,
    MAX_NOTICES,
    POLICIES,
    Entry,
    Notice,
    Policy,
    Subscriber,
)

__all__ = [
    "BACKPRESSURE",
    "BATCH_BUCKETS",
    "BLOCK_MAX",
    "DEFAULT_CLIENT_QUEUE",
    "DEFAULT_REPLAY",
    "MAX_NOTICES",
    "POLICIES",
    "REASONS",
    "Block",
    "ClientFilter",
    "ClientLoss",
    "Entry",
    "Histogram",
    "Hub",
    "HubSession",
    "HubStats",
    "Notice",
    "Policy",
    "Reason",
    "Replay",
    "Subscriber",
    "View",
]
