"""The stream events ringscope can produce: one module per BPF object (the
Python half of bpf/<stem>.bpf.c, same stem), the function-probe helpers they
share (funcprobe.py), and the registry that resolves event names (registry.py).

Dependencies point down: registry -> source modules -> dynamic/funcprobe ->
events (layouts, specs)."""

from .registry import (
    DEFAULT_EVENTS,
    EVENTS,
    FOLLOW,
    is_probe_spec,
    rebuild,
    resolve,
    resolve_events,
    resolve_probe,
)

__all__ = [
    "DEFAULT_EVENTS",
    "EVENTS",
    "FOLLOW",
    "is_probe_spec",
    "rebuild",
    "resolve",
    "resolve_events",
    "resolve_probe",
]
