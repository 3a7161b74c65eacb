"""The only place ctypes touches libbpf. Everything above sees typed Python."""

from .object import BpfObject, Link, Map, Program
from .probe import probe_map_type

__all__ = ["BpfObject", "Link", "Map", "Program", "probe_map_type"]
