"""Subject names, NATS URLs and message ids, without a server."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ringscope.errors import BadInput
from ringscope.export.message import MSG_ID, block_messages, run_id
from ringscope.fleet.feed import FleetFilter, with_host
from ringscope.hub import Block
from ringscope.jetstream import check_host, default_host, parse_url, subject, subject_type
from ringscope.jetstream.subjects import filter_subject, host_of

TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def test_type_names_are_made_subject_safe() -> None:
    assert subject_type("tracepoint:sched:sched_switch") == "tracepoint_sched_sched_switch"
    assert subject_type("uprobe:/bin/bash:readline") == "uprobe__bin_bash_readline"
    assert subject_type("open") == "open"
    assert subject("web-1", subject_type("exec")) == "ringscope.web-1.exec"


@given(st.text(max_size=80))
def test_any_type_name_becomes_one_subject_token(name: str) -> None:
    assert TOKEN.fullmatch(subject_type(name))


@given(st.text(max_size=80))
def test_a_host_name_is_one_token_or_refused(name: str) -> None:
    try:
        checked = check_host(name)
    except BadInput as e:
        assert "\n" not in str(e)
    else:
        assert TOKEN.fullmatch(checked) and host_of(subject(checked, "lost")) == checked


def test_the_default_host_name_is_a_valid_token() -> None:
    assert check_host(default_host()) == default_host()


def test_filters_narrow_the_subject_only_to_one_host_and_one_type() -> None:
    assert filter_subject(None, None) == "ringscope.*.*"
    assert filter_subject("a", None) == "ringscope.a.*"
    assert filter_subject("a", "tracepoint:x:y") == "ringscope.a.tracepoint_x_y"
    assert FleetFilter(frozenset({"a", "b"}), frozenset({"exec"})).subject() == "ringscope.*.exec"
    assert FleetFilter(None, None, "web-*").subject() == "ringscope.*.*"
    assert FleetFilter(None, None, "db").subject() == "ringscope.db.*"
    flt = FleetFilter(frozenset({"a", "b"}), frozenset({"exec", "open"}), "a*")
    assert flt.wants_host("a") and not flt.wants_host("b") and not flt.wants_host("c")
    assert flt.wants_type("exec") and flt.wants_type("lost") and not flt.wants_type("exit")


def test_host_is_spliced_into_every_row() -> None:
    assert with_host(b'{"seq":1}\n{"seq":2}\n', "h") == b'{"host":"h","seq":1}\n{"host":"h","seq":2}\n'
    assert with_host(b"", "h") == b""


@pytest.mark.parametrize(("url", "want"), [("nats://127.0.0.1", "nats://127.0.0.1:4222"),
                                           ("nats://example.org:4333", "nats://example.org:4333"),
                                           ("nats://[::1]:4222/", "nats://[::1]:4222")])  # fmt: skip
def test_good_urls(url: str, want: str) -> None:
    assert parse_url(url).url == want


@given(st.text(max_size=60))
def test_bad_urls_are_one_line_bad_input(text: str) -> None:
    try:
        target = parse_url(text)
    except BadInput as e:
        assert "\n" not in str(e) and str(e).startswith("bad --export")
    else:
        assert target.url.startswith(("nats://", "tls://"))


def test_credentials_in_a_url_are_refused_and_not_echoed() -> None:
    with pytest.raises(BadInput) as e:
        parse_url("nats://user:secret@host:4222")
    assert "secret" not in str(e.value)


def test_missing_credential_files_are_bad_input(tmp_path: object) -> None:
    from ringscope.jetstream import Credentials

    with pytest.raises(BadInput, match="--nats-creds"):
        parse_url("nats://h", credentials=Credentials(creds_file="/nonexistent/x.creds"))


def test_message_ids_name_host_run_and_first_seq() -> None:
    from tests.unit.test_export_spool import chunk_block

    block = chunk_block(seq0=40, n=3)
    run = run_id()
    (msg,) = block_messages(block, "h1", run)
    assert msg.headers()[MSG_ID] == f"h1:{run}:40" and msg.count == 3
    assert msg.subject == f"ringscope.h1.{subject_type(block.type)}"
    assert msg.payload == block.ndjson()
    assert run != run_id()  # a restarted process is a new run: seqs that start again are new ids


def test_a_loss_record_goes_to_lost() -> None:
    from ringscope.events.records import Lost

    (msg,) = block_messages(Block(Lost(7, "kernel", 5, 1, {})), "h1", "r")
    assert msg.subject == "ringscope.h1.lost" and msg.count == 0 and msg.msg_id == "h1:r:7"
