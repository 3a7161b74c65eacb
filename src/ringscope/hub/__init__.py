"""One reader -> many clients, in three concepts:
- blocks.py: blocks of stream items and the encoded bytes clients share;
- subscriber.py (with filter.py): one client's bounded queue, its filter
  and back-pressure policy;
- fanout.py: the Hub, which drains the session once per wakeup, offers every
  block to every subscriber, keeps the replay window and narrows the kernel
  side to what the clients want."""

from .blocks import Block, View
from .fanout import BLOCK_MAX, DEFAULT_REPLAY, Hub, HubSession
from .filter import ClientFilter
from .subscriber import (
    DEFAULT_CLIENT_QUEUE,
    MAX_NOTICES,
    POLICIES,
    ClientLoss,
    Entry,
    Notice,
    Policy,
    Subscriber,
)

__all__ = [
    "BLOCK_MAX",
    "DEFAULT_CLIENT_QUEUE",
    "DEFAULT_REPLAY",
    "MAX_NOTICES",
    "POLICIES",
    "Block",
    "ClientFilter",
    "ClientLoss",
    "Entry",
    "Hub",
    "HubSession",
    "Notice",
    "Policy",
    "Subscriber",
    "View",
]
