"""The JetStream stream that holds every host's messages: created if
missing, its limits updated to what the command line asks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import RingscopeError
from .subjects import ALL

if TYPE_CHECKING:
    from nats.js.client import JetStreamContext

__all__ = ["DEFAULT_STREAM", "DUPLICATE_WINDOW", "StreamSpec", "ensure_stream"]

DEFAULT_STREAM = "RINGSCOPE"
DUPLICATE_WINDOW = 120.0  # seconds a Nats-Msg-Id is remembered (the server's default)


@dataclass(frozen=True)
class StreamSpec:
    name: str = DEFAULT_STREAM
    max_age: float = 0.0  # seconds, 0 = no limit
    max_bytes: int = -1  # -1 = no limit


async def ensure_stream(js: JetStreamContext, spec: StreamSpec, *, update: bool = True) -> None:
    """Create the stream (subjects ringscope.>) or, with `update`, bring its
    limits to `spec` (a reader, serve --from, only creates a missing one)."""
    from nats.errors import Error as NatsError
    from nats.js.api import StreamConfig
    from nats.js.errors import NotFoundError

    config = StreamConfig(name=spec.name, subjects=[ALL], max_age=spec.max_age or None,
                          max_bytes=spec.max_bytes, duplicate_window=DUPLICATE_WINDOW)  # fmt: skip
    try:
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(config)
            return
        if update:
            await js.update_stream(config)
    except (NatsError, TimeoutError) as e:
        raise RingscopeError(f"JetStream stream {spec.name}: {str(e).strip() or type(e).__name__}") from None
