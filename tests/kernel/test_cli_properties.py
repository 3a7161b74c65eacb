"""Property test: generated argument lists thrown at every subcommand.

Whatever the arguments, `ringscope` answers and ends: no traceback, an exit
status in {0, 1, 2} (130 only when the run was still going after a few
seconds and got SIGINT, which is the exit-status rule), no hang (the end
within 15 s of SIGINT: on a loaded machine a last `top` refresh can take
seconds), and a bad run says why in one `ringscope: error:` line. Values come from pools of
what people mistype (fullwidth digits, nan, -0, huge numbers, empty
strings, missing files) mixed with valid ones, so runs that really trace
happen too. Each example runs the real CLI in a forked child
(tests/kernel/forked_cli.py); files go to a temporary directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import IN_CI
from tests.kernel.forked_cli import Outcome, run

NUMBERS = ["0", "1", "2", "3", "-1", "-0", "0.5", "nan", "inf", "-inf", "1e999", "\uff11", "\u0661\u0662", "0x10", "1_0",
           " 5", "99999999999999999999", "abc", "", "10"]  # fmt: skip
PIDS = ["1", str(os.getpid()), "999999999", "\uff11", "-5", "0", "abc", ""]
EVENTS = ["exec", "exec,exit", "open", "nosuch", "sched:sched_process_*", "syscalls:sys_enter_open*",
          "tracepoint:sched:sched_switch", "sched:nosuch*", "{task-clock,page-faults}:u", "page-faults:k",
          "duration_time", "user_time", "cycles", "runqlat", "kprobe:vfs_read", "uprobe:/nonexistent:f",
          "usdt:/bin/true:a:b", "", ",", "{", "}", "a:b:c:d", "cpu-clock"]  # fmt: skip
PATHS = ["out.txt", "/nonexistent/dir/x", "/tmp", "/dev/full", "", "ringscope.profile"]
COMMANDS = [["true"], ["false"], ["sh", "-c", "exit 2"], ["/nonexistent/cmd"], []]
# Any text a shell can pass: no NUL; undecodable bytes arrive as surrogate escapes.
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\0"), max_size=8) | st.just(
    "\udcff"
)


def _opt(flag: str, values: list[str]) -> st.SearchStrategy[list[str]]:
    return st.tuples(st.just(flag), st.sampled_from(values) | TEXT).map(list)


def _flag(flag: str) -> st.SearchStrategy[list[str]]:
    return st.just([flag])


SESSION = [_opt("-e", EVENTS), _opt("-p", PIDS), _opt("--comm", ["sh", "x" * 16, "", "\udcff"]),
           _opt("--uid", ["0", "root", "nosuchuser", "\uff11"]), _opt("--cgroup", ["/", "no/such", "\uff11"]),
           _opt("--ring-size", ["4M", "16G", "5000", "1024", "lots", "\uff11M"]),
           _opt("--transport", ["ringbuf", "perfbuf", "carrier-pigeon"])]  # fmt: skip
OPTIONS: dict[str, list[st.SearchStrategy[list[str]]]] = {
    "trace": [*SESSION, _opt("-n", NUMBERS), _opt("--duration", NUMBERS), _opt("--format", ["text", "json", "xml"])],
    "serve": [*SESSION, _opt("--host", ["127.0.0.1", "0.0.0.0", "::1", "localhost"]),
              _opt("--token", ["short", "x" * 20, "with space in it 1234"]),
              _opt("--tls-cert", ["/nonexistent"]), _opt("--client-queue", NUMBERS),
              _opt("--max-clients", NUMBERS), _opt("--replay", NUMBERS)],
    "stat": [_opt("-e", EVENTS), _opt("-p", PIDS), _opt("-t", PIDS), _flag("-a"), _opt("-C", ["0", "0-1", "1-0", "99", "\uff10", "a"]),
             _opt("-G", ["/", "nosuch"]), _flag("-A"), _flag("--per-core"), _flag("--per-socket"), _flag("-d"),
             _opt("-r", NUMBERS), _flag("--no-big-num"), _opt("-I", NUMBERS), _opt("-x", [",", ";", ""]),
             _flag("-j"), _opt("-o", PATHS)],
    "record": [_opt("-F", NUMBERS), _opt("-c", NUMBERS), _opt("-e", EVENTS), _flag("-g"), _opt("-p", PIDS),
               _flag("-a"), _opt("-o", PATHS), _opt("--duration", NUMBERS)],
    "report": [_opt("-i", ["ringscope.profile", "/nonexistent", "/tmp", "/etc/hostname", "/dev/null"]),
               _opt("--sort", ["comm", "dso,sym", "bogus", ""]),
               _opt("--format", ["text", "folded", "speedscope", "svg", "xml"]), _flag("-g"),
               _opt("-n", ["1", "5", "abc", "\uff11"]), _opt("-o", PATHS)],
    "top": [_opt("-F", ["99", "1", "abc", "\uff11", "999999999"]), _opt("-e", EVENTS), _opt("-p", PIDS), _flag("-a"),
            _opt("-d", ["0.2", "1", "abc"]), _opt("-n", ["1", "2", "abc"]), _opt("--rows", ["5", "abc"])],
    "hist": [_opt("-e", EVENTS), _opt("--by", ["comm", "pid", "tid", "arg0", "prev_pid", "nosuch", ""]),
             _flag("--latency"), _opt("-p", PIDS), _opt("-i", NUMBERS), _opt("--duration", NUMBERS), _flag("--json")],
    "list": [st.sampled_from(["sw", "hw", "cache", "tool", "tracepoint", "stream", "sched:*", "page",
                              "uprobe:/bin/true:*", "usdt:/bin/true", "uprobe:/nonexistent:*", "uprobe:", "nosuch"]).map(lambda f: [f]),
             _flag("--json"), TEXT.map(lambda t: [t])],
}  # fmt: skip
# Known not to hold yet, owned elsewhere (see the issue): values left out of
# the pools above rather than hidden here: `report -i /dev/zero`,
# `report -n 0|-3`, `top --rows 0`, `top -d nan` (the profiler work).


def argv_for(command: str) -> st.SearchStrategy[list[str]]:
    opts = st.lists(st.one_of(OPTIONS[command]) | TEXT.map(lambda t: [t]), max_size=4)
    tail = (
        st.sampled_from(COMMANDS).map(lambda c: ["--", *c])
        if command not in ("report", "top", "list", "serve")
        else st.just([])
    )
    return st.tuples(opts, st.one_of(st.just([]), tail)).map(
        lambda p: [command, *(t for o in p[0] for t in o), *p[1]]
    )


def check(o: Outcome) -> None:
    where = f"ringscope {' '.join(map(repr, o.argv))}"
    assert not o.hung, f"{where}: still running 15 s after SIGINT"
    assert "Traceback" not in o.stderr, f"{where}:\n{o.stderr}"
    ran = o.argv[o.argv.index("--") + 1 :] if "--" in o.argv else []
    cannot_run = "ringscope: error: cannot run" in o.stderr  # a command not there: 127, as a shell
    allowed = {0, 1, 2} | ({130} if o.interrupted else set()) | ({127} if cannot_run else set())
    assert o.code in allowed, f"{where}: exit {o.code}\n{o.stderr}"
    if o.code not in (1, 2, 127) or ran in (["false"], ["sh", "-c", "exit 2"]):  # the command's own status
        return
    lines = [line for line in o.stderr.splitlines() if line.strip()]
    said = lines[-1:] if o.code == 2 else lines  # usage: the last line says why
    assert any(line.startswith("ringscope: error: ") for line in said), f"{where}: {o.stderr!r}"


def _settings(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(max_examples=examples, deadline=None, database=None, derandomize=IN_CI,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip


# Examples per subcommand: the ones that load BPF programs cost more per run.
# RINGSCOPE_PROPERTY_SCALE=10 searches longer (by hand; CI runs the default).
BUDGET = {"trace": 12, "serve": 8, "stat": 30, "record": 12, "report": 25, "top": 8, "hist": 12, "list": 20}
SCALE = float(os.environ.get("RINGSCOPE_PROPERTY_SCALE", "1"))


@pytest.mark.parametrize("command", list(BUDGET))
def test_any_arguments_get_an_answer(command: str, tmp_path: Path) -> None:
    @_settings(max(1, int(BUDGET[command] * SCALE)))
    @given(argv_for(command))
    def prop(argv: list[str]) -> None:
        if command == "serve":
            argv = [*argv, "--port", "0"]  # never the default port, which a real server may hold
        check(run(argv, tmp_path))

    prop()


@pytest.mark.parametrize(
    "argv",
    [
        ["trace", "--duration", "nan"],
        ["trace", "--duration", "inf"],
        ["trace", "--duration", "-0"],
        ["hist", "-e", "runqlat", "--duration", "nan"],
        ["hist", "-e", "runqlat", "--duration", "inf"],
        ["hist", "-e", "runqlat", "--duration", "-0"],
        ["hist", "-e", "runqlat", "-i", "nan"],
        ["record", "-a", "--duration", "nan"],
        ["trace", "--"],
        ["hist", "-e", "runqlat", "--"],
        ["stat", "--"],
        ["record", "--"],
        ["trace", "-p", "\uff11"],
        ["stat", "-p", "\uff11"],
        ["hist", "-e", "runqlat", "-p", "\uff11"],
        ["record", "-p", "\uff11"],
        ["trace", "-n", "\uff11"],
        ["stat", "-r", "0"],
        ["stat", "-I", "nan"],
        ["stat", "-A", "--", "true"],
        ["stat", "-G", "/", "--", "true"],
        ["serve", "--port", "\uff18\uff17\uff15\uff10"],
    ],
    ids=" ".join,
)
def test_bad_input_is_a_usage_error_at_once(argv: list[str], tmp_path: Path) -> None:
    o = run(argv, tmp_path, budget=5.0)
    assert not o.interrupted, f"{argv}: still running after 5 s"
    assert o.code == 2, (o.code, o.stderr)
    check(o)
