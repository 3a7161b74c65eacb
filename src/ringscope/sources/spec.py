"""What a stream event is made of: the BPF object and programs that produce
it, the C struct it is written as, and the Python touch-up of decoded rows
(per row for `rows()`, per column for the NDJSON encoder)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Row = dict[str, Any]

__all__ = ["Column", "Columns", "EventSpec", "Lookup", "Row", "array"]


@dataclass(frozen=True, slots=True)
class Lookup:
    """A column of repeated values: row i holds `values[codes[i]]`. Each
    distinct value is converted (and later encoded) once, not once per row."""

    codes: np.ndarray
    values: list[Any]

    @classmethod
    def map(cls, keys: np.ndarray, fn: Callable[[Any], Any]) -> Lookup:
        """`fn(key)` for each row's key, calling `fn` once per distinct key."""
        if len(keys) and keys[0] == keys[-1] and bool((keys == keys[0]).all()):
            return cls(np.zeros(len(keys), np.intp), [fn(keys[0].item())])
        uniq, codes = np.unique(keys, return_inverse=True)
        return cls(codes.reshape(-1), [fn(k) for k in uniq.tolist()])


Column = np.ndarray | Lookup | list[Any]
"""One field of every event of a chunk: a 1-D integer array (JSON ints), a
1-D bytes array `S<n>` (C strings, decoded like `rows()` does), a 2-D array
(each row's raw bytes, as hex), a Lookup, or one Python value per row."""

Columns = dict[str, Column]
"""A chunk's fields in the order of its rows' keys."""


@dataclass(frozen=True)
class EventSpec:
    name: str  # stream name: "exec", "open", ...
    obj: str  # bpf/<obj>.bpf.c
    programs: tuple[str, ...]  # programs to load and attach for this event
    struct: str  # C struct in events.h
    enum: str  # enum rs_event_type member
    doc: str
    finish: Callable[[list[Row]], None] | None = field(default=None, compare=False)
    raw_fields: tuple[str, ...] = ()  # char arrays handed to `finish` as bytes
    # The same touch-up as `finish`, on whole columns (same keys, same order,
    # same values). Events with a `finish` but no `finish_columns` are
    # encoded from rows().
    finish_columns: Callable[[Columns], None] | None = field(default=None, compare=False)


def array(cols: Columns, name: str) -> np.ndarray:
    """The numpy column `name` (for `finish_columns`, which must not write to it)."""
    col = cols[name]
    assert isinstance(col, np.ndarray), f"column {name} is not an array"
    return col
