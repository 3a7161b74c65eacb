"""One NATS message per hub block: its NDJSON (the bytes the encoder already
made for HTTP clients), on the subject of its type, with the headers that
let JetStream drop a retried publish and a reader count without parsing.

`Nats-Msg-Id` is `<host>:<run>:<first seq>`. The run names one stream of
seqs (the kernel's boot id and when this process started reading), so
seqs that start again at 1 after a restart are new ids, while a publish
retried after a lost ack has the same id and is stored once (within the
stream's duplicate window)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..hub import Block, View
from ..hub.blocks import MIXED
from ..jetstream.subjects import LOST, STATUS, subject, subject_type

__all__ = ["COUNT", "MSG_ID", "TYPE", "Message", "block_messages", "run_id", "status_message"]

MSG_ID = "Nats-Msg-Id"
TYPE = "Ringscope-Type"  # the exact type name (subject tokens are many-to-one)
COUNT = "Ringscope-Count"  # events in the message (0 for a loss record or a heartbeat)


@dataclass(frozen=True, slots=True)
class Message:
    """One message to publish. `count` events (0 for loss and status)."""

    subject: str
    msg_id: str
    type_name: str
    count: int
    payload: bytes

    def headers(self) -> dict[str, str]:
        return {MSG_ID: self.msg_id, TYPE: self.type_name, COUNT: str(self.count)}

    @property
    def size(self) -> int:
        return len(self.subject) + len(self.msg_id) + len(self.type_name) + len(self.payload) + 32


def run_id() -> str:
    """This process's run: the kernel's boot id (short) and the start time in ns."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:16]
    except OSError:
        boot = "noboot"
    return f"{boot}-{time.time_ns()}"


def block_messages(block: Block, host: str, run: str) -> list[Message]:
    """The messages for one hub block: one per event type it holds (a Mixed
    batch's types go to their own subjects, each in seq order), identified
    by its first seq; or its loss record."""
    if not block.is_event:
        return [Message(subject(host, LOST), f"{host}:{run}:{block.seq0}", "lost", 0, block.ndjson())]
    if block.type != MIXED:
        return [Message(subject(host, subject_type(block.type)), f"{host}:{run}:{block.seq0}", block.type,
                        block.count, block.ndjson())]  # fmt: skip
    out = []
    for t, view in View(block).by_type().items():
        first = int(view.seqs()[0])
        out.append(
            Message(subject(host, subject_type(t)), f"{host}:{run}:{first}", t, len(view), view.ndjson())
        )
    return out


def status_message(host: str, payload: bytes) -> Message:
    """A heartbeat: never deduplicated (no two are the same), never spooled."""
    return Message(subject(host, STATUS), "", STATUS, 0, payload)
