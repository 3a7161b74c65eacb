"""Queue entries -> bytes on the wire, per protocol. The events' bytes come
from the encoder through their block (made once, shared by every client);
this module only frames entries for SSE, WebSocket and chunked NDJSON."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..encode import row_json
from ..hub import ClientLoss, Entry, Notice, View

__all__ = ["end_row", "frames", "ndjson", "ndjson_chunks", "sse", "sse_comment"]


def _row_line(entry: ClientLoss | Notice) -> bytes:
    return row_json(entry.row()) + b"\n"


def ndjson(entries: Sequence[Entry]) -> bytes:
    """All entries as one write: one JSON object per line."""
    return b"".join([e.ndjson() if isinstance(e, View) else _row_line(e) for e in entries])


def ndjson_chunks(entries: Sequence[Entry], batch: int) -> list[bytes]:
    """NDJSON in pieces of at most `batch` events (loss records ride along),
    for clients that asked for a chunk size with `batch=`."""
    out: list[bytes] = []
    parts: list[bytes] = []
    room = batch
    for e in entries:
        if not isinstance(e, View) or not e.is_event:
            parts.append(e.ndjson() if isinstance(e, View) else _row_line(e))
            continue
        view = e
        while len(view) > room:  # split: the head fills this piece
            parts.append(view.head(room).ndjson())
            out.append(b"".join(parts))
            view = view.tail(len(view) - room)
            parts, room = [], batch
        parts.append(view.ndjson())
        room -= len(view)
        if room == 0:
            out.append(b"".join(parts))
            parts, room = [], batch
    if parts:
        out.append(b"".join(parts))
    return out


def sse(entries: Sequence[Entry], batch: int) -> bytes:
    """SSE messages. `id:` is the stream seq, so Last-Event-ID resumes after
    it. With batch > 1, up to `batch` events share a message whose data is a
    JSON array (event "batch", id = the last seq in it)."""
    if batch == 1:
        out: list[bytes] = []
        for e in entries:
            if isinstance(e, View):
                out.append(e.sse())
            elif isinstance(e, ClientLoss):  # the data line ends in its own newline
                out.append(b"id: %d\nevent: lost\ndata: %s\n" % (e.last_seq, _row_line(e)))
            else:
                name = str(e.doc.get("type", "notice")).encode()
                out.append(b"event: %s\ndata: %s\n" % (name, _row_line(e)))
        return b"".join(out)
    return b"".join(
        (b"id: %d\n" % last if last >= 0 else b"") + b"event: %s\ndata: %s\n\n" % (name.encode(), body)
        for name, last, body in _arrays(entries, batch)
    )


def _items(entries: Sequence[Entry]) -> Iterator[tuple[str, int, bytes]]:
    """(type, seq, json without newline) per item."""
    for e in entries:
        if isinstance(e, ClientLoss):
            yield "lost", e.last_seq, _row_line(e)[:-1]
            continue
        if isinstance(e, Notice):
            yield str(e.doc.get("type", "notice")), -1, _row_line(e)[:-1]
            continue
        lines = e.block.lines()
        seq0 = e.block.seq0
        kinds, names = e.block.kinds()  # the type of each event (a block may mix them)
        for i in e.positions():
            yield names[kinds[i]], seq0 + i, lines[i]


def _arrays(entries: Sequence[Entry], batch: int) -> Iterator[tuple[str, int, bytes]]:
    """Group items into JSON arrays of up to `batch`: (name, last seq, body)."""
    group: list[bytes] = []
    last = -1
    for _t, seq, body in _items(entries):
        group.append(body)
        last = max(last, seq)  # notices have no seq (-1)
        if len(group) == batch:
            yield "batch", last, b"[" + b",".join(group) + b"]"
            group = []
    if group:
        yield "batch", last, b"[" + b",".join(group) + b"]"


def frames(entries: Sequence[Entry], batch: int) -> list[bytes]:
    """WebSocket text frames: one JSON object each, or arrays of `batch`."""
    if batch == 1:
        return [body for _t, _s, body in _items(entries)]
    return [body for _n, _l, body in _arrays(entries, batch)]


def sse_comment(text: str) -> bytes:
    return b": " + text.encode() + b"\n\n"


def end_row(reason: str, **extra: object) -> bytes:
    """The final frame of a stream (shutdown, limit, queue overflow)."""
    return row_json({"type": "end", "reason": reason, **extra})
