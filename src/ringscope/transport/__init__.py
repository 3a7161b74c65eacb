"""Transports: how records get from the BPF programs to the pipeline.

Every transport is a `Reader` (base.py) that hands on `Run`s of raw records:
- ringbuf.py: the BPF ring buffer (one ring shared by every CPU), read over mmap;
- perfbuf.py: the per-CPU perf buffers, merged into time order by reorder.py;
- capture.py: the polls of a capture file, replayed (capture/ reads the file);
and, beside them, the rules they share: sizing.py (valid ring sizes, the
wakeup threshold), choice.py (which one this kernel can run), ordering.py
(memory ordering against the kernel), topology.py (CPUs).
"""
