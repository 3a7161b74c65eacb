"""`ringscope convert`: a capture file to Parquet, one file per event type."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import NotSupported, RingscopeError
from ..session import Session
from .commands import COMMANDS


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("convert", help=COMMANDS["convert"],
                       description="Write every event of capture FILE to DIR/<type>.parquet, with typed "
                                   "columns (and the loss records to DIR/lost.parquet), for DuckDB, "
                                   "pandas or Polars.")  # fmt: skip
    p.add_argument("input", metavar="FILE", help="a capture file (trace -w, serve --capture)")
    p.add_argument("-o", "--output", metavar="DIR", required=True,
                   help="directory for the Parquet files (created if missing)")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from ..capture.parquet import ParquetSink  # pyarrow loads only for this command
    except ModuleNotFoundError as e:
        if e.name is None or not e.name.startswith("pyarrow"):
            raise
        raise NotSupported("convert needs pyarrow: pip install 'ringscope[parquet]'") from None
    session = Session.replay(args.input)
    out = Path(args.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        session.close()
        raise RingscopeError(f"cannot write {out}: {e.strerror}") from None
    sink = ParquetSink(out)
    try:
        with session:
            while True:
                done = session.exhausted
                sink.add(session.poll(0, flush=done))
                if done:
                    break
        sink.close()
    except OSError as e:
        raise RingscopeError(f"cannot write {out}: {e.strerror}") from None
    files = ", ".join(f"{path.name} {sink.rows[name]}" for name, path in sink.files.items())
    events = sum(n for name, n in sink.rows.items() if name != "lost")
    print(f"ringscope: {events} events to {out}/ ({files or 'no events'})", file=sys.stderr)
    if session.truncated:
        print(f"ringscope: {session.truncated}: converted up to there", file=sys.stderr)
    return 0
