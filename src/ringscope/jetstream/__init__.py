"""NATS JetStream, as ringscope uses it:
- subjects.py: the subject scheme and subject-safe type and host names;
- connection.py: the URL and credentials, and connecting with them;
- stream.py: the stream, created or updated to the limits asked for."""

from .connection import Credentials, NatsTarget, connect, parse_url
from .stream import DEFAULT_STREAM, StreamSpec, ensure_stream
from .subjects import check_host, default_host, subject, subject_type

__all__ = [
    "DEFAULT_STREAM",
    "Credentials",
    "NatsTarget",
    "StreamSpec",
    "check_host",
    "connect",
    "default_host",
    "ensure_stream",
    "parse_url",
    "subject",
    "subject_type",
]
