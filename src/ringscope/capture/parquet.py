"""A capture as Parquet: one file per event type (`ringscope convert`), so
DuckDB, pandas or Polars can query it.

The columns are the events' JSON fields, typed: integers keep their C width
and signedness (a u64 stays uint64), strings are strings, argv and args are
lists, fixed byte arrays are binary, repeated strings are dictionary-coded
by Parquet itself. Loss records go to `lost.parquet` (`by_type` as a map).
The values are those the encoder writes: the same touch-ups (finish_columns)
run on the same columns.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..events.records import Chunk, Item, Lost
from ..events.spec import Column, IntLists, Lookup, Nullable

__all__ = ["ParquetSink", "file_name"]

ROWS_PER_GROUP = 262_144  # rows held per type before a row group is written


def file_name(type_name: str) -> str:
    """A file name for an event type: `tracepoint:sched:sched_switch` ->
    `tracepoint_sched_sched_switch.parquet`."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", type_name).strip("_") + ".parquet"


def _strings(col: np.ndarray) -> list[str]:
    return [v.split(b"\0", 1)[0].decode(errors="replace") for v in col.tolist()]


def _arrow(col: Column) -> pa.Array:
    """One column of a chunk (after finish_columns) as an Arrow array."""
    if isinstance(col, Lookup):
        return pa.array(col.values).take(pa.array(np.asarray(col.codes, np.int64)))
    if isinstance(col, IntLists):
        values = np.ascontiguousarray(col.values)
        return pa.array(values.tolist(), pa.list_(pa.from_numpy_dtype(values.dtype)))
    if isinstance(col, Nullable):
        return pa.array(_strings(col.values), pa.string(), mask=~col.present.astype(bool))
    if isinstance(col, list):
        return pa.array(col)
    if col.ndim == 2:
        return pa.array([bytes(r) for r in np.ascontiguousarray(col, np.uint8)], pa.binary(col.shape[1]))
    if col.dtype.kind == "S":
        return pa.array(_strings(col), pa.string())
    return pa.array(np.ascontiguousarray(col))


def _table(chunk: Chunk) -> pa.Table:
    spec = chunk.spec
    if spec.finish is not None and spec.finish_columns is None:
        return pa.Table.from_pylist(chunk.rows())
    cols = chunk.columns()
    if spec.finish_columns is not None:
        spec.finish_columns(cols)
    return pa.table({name: _arrow(col) for name, col in cols.items()})


def _lost_table(rows: list[dict[str, Any]]) -> pa.Table:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    cols: dict[str, pa.Array] = {}
    for k in keys:
        values = [r.get(k) for r in rows]
        if k == "by_type":
            cols[k] = pa.array([None if v is None else list(v.items()) for v in values],
                               pa.map_(pa.string(), pa.int64()))  # fmt: skip
        else:
            cols[k] = pa.array(values)
    return pa.table(cols)


class ParquetSink:
    """Writes the items of a stream to DIR/<type>.parquet. Owns its
    writers: close() finishes every file. Not thread-safe."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.rows: dict[str, int] = {}  # per event type (and "lost")
        self._pending: dict[str, list[pa.Table]] = {}
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._names: dict[str, Path] = {}

    def add(self, items: list[Item]) -> None:
        lost = [i.row() for i in items if isinstance(i, Lost)]
        if lost:
            self._put("lost", _lost_table(lost))
        for item in items:
            if isinstance(item, Chunk) and len(item):
                self._put(item.spec.name, _table(item))

    def _put(self, name: str, table: pa.Table) -> None:
        self._pending.setdefault(name, []).append(table)
        self.rows[name] = self.rows.get(name, 0) + table.num_rows
        if sum(t.num_rows for t in self._pending[name]) >= ROWS_PER_GROUP:
            self._write(name)

    def _write(self, name: str) -> None:
        tables = self._pending.pop(name, [])
        if not tables:
            return
        table = pa.concat_tables(tables, promote_options="default")
        writer = self._writers.get(name)
        if writer is None:
            path = self._path(name)
            writer = self._writers[name] = pq.ParquetWriter(path, table.schema, compression="zstd")
        else:
            table = pa.concat_tables([writer.schema.empty_table(), table], promote_options="default")
            table = table.cast(writer.schema)
        writer.write_table(table)

    def _path(self, name: str) -> Path:
        base = file_name(name)
        path, n = self.directory / base, 1
        while path in self._names.values():
            n += 1
            path = self.directory / base.replace(".parquet", f".{n}.parquet")
        self._names[name] = path
        return path

    @property
    def files(self) -> dict[str, Path]:
        return dict(self._names)

    def close(self) -> None:
        for name in list(self._pending):
            self._write(name)
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
