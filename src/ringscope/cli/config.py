"""`serve --config FILE`: a TOML file with the aggregates to keep.

    [[aggregate]]
    spec = "runqlat?by=comm"

    [[aggregate]]
    event = "syscalls:sys_enter_read"
    latency = true
    max_labels = 100

or `aggregate = ["runqlat?by=comm", "syscalls:sys_enter_read?latency=1"]`.
Each entry takes the parameters of hist_query.py. Anything else in the file
is an error, so that a misspelt key is not silently ignored."""

from __future__ import annotations

import tomllib
from pathlib import Path

from ..errors import BadInput
from ..sources.hist_query import HistQuery, parse_spec, parse_table

__all__ = ["read_config"]

_KEYS = frozenset({"aggregate"})


def read_config(path: str) -> list[HistQuery]:
    """The aggregates of config file `path`. BadInput (exit 2) for a file that
    cannot be read or parsed, an unknown key, or a bad aggregate."""
    try:
        doc = tomllib.loads(Path(path).read_text())
    except OSError as e:
        raise BadInput(f"--config {path}: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise BadInput(f"--config {path}: not valid TOML ({e})") from None
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        raise BadInput(f"--config {path}: unknown key {unknown[0]!r} (expected: {', '.join(sorted(_KEYS))})")
    entries = doc.get("aggregate", [])
    if not isinstance(entries, list):
        raise BadInput(f"--config {path}: `aggregate` must be a list of specs or [[aggregate]] tables")
    return [_entry(path, i, e) for i, e in enumerate(entries)]


def _entry(path: str, i: int, entry: object) -> HistQuery:
    try:
        if isinstance(entry, str):
            return parse_spec(entry)
        if isinstance(entry, dict):
            return parse_table(entry)
    except BadInput as e:
        raise BadInput(f"--config {path}: aggregate {i + 1}: {e}") from None
    raise BadInput(f"--config {path}: aggregate {i + 1}: expected a spec string or a table")
