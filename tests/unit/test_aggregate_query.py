"""The one aggregate query parser (hist, /api/hist, serve --aggregate,
--config, POST /api/aggregates) and the TOML config, without a kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringscope.cli.config import read_config
from ringscope.errors import BadInput
from ringscope.sources.hist_query import HistQuery, parse_query, parse_spec, parse_table


def test_spec_round_trips_to_a_canonical_id() -> None:
    q = parse_spec("syscalls:sys_enter_read?max_labels=100&latency=true&by=comm")
    assert q == HistQuery("syscalls:sys_enter_read", by="comm", latency=True, max_labels=100)
    assert q.spec == "syscalls:sys_enter_read?by=comm&latency=1&max_labels=100"
    assert parse_spec(q.spec) == q
    assert parse_spec("runqlat").spec == "runqlat" and parse_spec("runqlat?latency=0").spec == "runqlat"
    assert parse_spec("uprobe:/usr/lib/libc.so.6:malloc?value=arg0").spec == (
        "uprobe:/usr/lib/libc.so.6:malloc?value=arg0"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "missing event"),
        ("?by=comm", "missing event"),
        ("runqlat?by=comm&by=pid", "given more than once"),
        ("runqlat?event=x", "given more than once"),
        ("runqlat?colour=red", "unknown parameter 'colour'"),
        ("runqlat?latency=maybe", "bad latency"),
        ("runqlat?max_labels=0", "bad max_labels"),
        ("runqlat?max_labels=999999", "bad max_labels"),
        ("runqlat?max_labels=x", "not a number"),
        ("runqlat?pid=0", "bad pid"),
        ("runqlat?unit=furlongs", "bad unit"),
        ("runqlat?name=9lives", "bad name"),
        ("uprobe:libc:malloc?latency=1&value=arg0", "choose one"),
        ("runqlat?by", "expected EVENT"),
    ],
)
def test_bad_specs(text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_spec(text)


def test_extra_keys_belong_to_the_caller() -> None:
    q = parse_query({"event": "runqlat", "duration": "2"}, extra=frozenset({"duration"}))
    assert q == HistQuery("runqlat")
    with pytest.raises(BadInput, match="unknown parameter 'duration'"):
        parse_query({"event": "runqlat", "duration": "2"})


def test_tables_take_typed_values() -> None:
    assert parse_table({"event": "runqlat", "latency": True, "max_labels": 12}) == HistQuery(
        "runqlat", latency=True, max_labels=12
    )
    assert parse_table({"spec": "runqlat?by=pid"}) == HistQuery("runqlat", by="pid")
    with pytest.raises(BadInput, match="takes no other keys"):
        parse_table({"spec": "runqlat", "by": "pid"})
    with pytest.raises(BadInput, match="expected a string, number or boolean"):
        parse_table({"event": "runqlat", "by": ["pid"]})


def test_config_file_forms(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text('aggregate = ["runqlat?by=comm", "syscalls:sys_enter_read?latency=1"]\n')
    assert [q.spec for q in read_config(str(path))] == [
        "runqlat?by=comm",
        "syscalls:sys_enter_read?latency=1",
    ]
    path.write_text("[[aggregate]]\nevent = 'runqlat'\n[[aggregate]]\nspec = 'runqlat?by=pid'\n")
    assert [q.spec for q in read_config(str(path))] == ["runqlat", "runqlat?by=pid"]
    path.write_text("")
    assert read_config(str(path)) == []
    path.write_text("aggregate = 'runqlat'\n")
    with pytest.raises(BadInput, match="must be a list"):
        read_config(str(path))
    path.write_text(
        "[[aggregate]]\nevent = 'runqlat'\n[[aggregate]]\nevent = 'runqlat'\nby = 'x'\ncolor = 1\n"
    )
    with pytest.raises(BadInput, match="aggregate 2: unknown parameter 'color'"):
        read_config(str(path))
