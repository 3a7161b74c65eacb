"""The only place ringscope touches perf_event_open(2): the syscall through
ctypes (syscall.py) and struct perf_event_attr laid out from the kernel's
BTF (attr.py). Everything above it is typed Python: counting and sampling
(ringscope.perf) and the perf buffer transport (ringscope.transport)."""
