"""Capture files: a stream saved exactly as it came off the ring, with what
decoding it anywhere needs, and read back through the same pipeline.

- format.py: the framing (file header, length-prefixed blocks, zstd per block);
- polls.py: poll records, the payload of POLLS blocks;
- meta.py: the META block (host, clock, versions, the events' descriptions);
- writer.py: CaptureWriter, a stream Tap that appends to a file while live;
- reader.py: CaptureFile, the description and then the polls of a file;
- replay.py: Replay, a capture as the producer of a Session;
- parquet.py: one Parquet file per event type (`ringscope convert`).

The replaying Reader itself is transport/capture.py. docs/capture-format.md
is the format's specification.
"""

from .reader import CaptureFile
from .replay import Replay
from .writer import CaptureWriter

__all__ = ["CaptureFile", "CaptureWriter", "Replay"]
