"""What the pipeline knows about an event, and raw records -> events.

- spec.py: EventSpec (what produces an event, its C struct, its touch-ups,
  its load hooks) and the column types the encoder takes;
- layout.py: numpy dtypes generated from the objects' BTF (no hand-written
  offsets: bpf/include/events.h is the only place a layout is written);
- decode.py, tagged.py: Runs from a transport -> Chunks numbered in stream
  order (tagged.py splits the records of events that share one type code);
- records.py: Chunk (a numpy view of consecutive events of one type) and
  Lost (a loss record), the items of the stream.

This package depends on nothing above it: sources/ build on its specs.
"""
