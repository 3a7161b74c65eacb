"""Export to NATS JetStream, as its data path:
- message.py: a hub block -> one message (subject, Nats-Msg-Id, NDJSON);
- spool.py: messages on disk while NATS is slow or down, bounded;
- queue.py: the outbox between the hub and the publisher, every event counted;
- publisher.py: publishing with a window of acks in flight;
- exporter.py: the thread and loop that run it, the heartbeat, the loss records."""

from .exporter import Exporter
from .message import Message, block_messages
from .queue import Outbox
from .spool import Spool

__all__ = ["Exporter", "Message", "Outbox", "Spool", "block_messages"]
