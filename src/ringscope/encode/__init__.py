"""The one encoder: chunks of events -> bytes, for every consumer.

- json.py: NDJSON lines and SSE messages, byte for byte what orjson makes of
  the rows (trace --format json, /events.ndjson, /events, WebSocket frames);
- text.py: the aligned, escaped text lines of `ringscope trace`;
- interleave.py: Mixed batches (several types gathered from one drain),
  each type encoded as above, the lines put back in stream order;
- columns.py: the column engine all of them are made of.

Each chunk is encoded once per format; the hub shares the bytes between
clients (hub/blocks.py), trace writes them as they are.
"""

from .columns import json_default
from .interleave import ndjson_mixed, sse_mixed, text_mixed
from .json import encode_rows, ndjson, row_json, sse
from .text import text, text_header, text_row

__all__ = ["encode_rows", "json_default", "ndjson", "ndjson_mixed", "row_json", "sse", "sse_mixed", "text",
           "text_header", "text_mixed", "text_row"]  # fmt: skip
