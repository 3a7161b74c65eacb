"""Bad input through the CLI, in-process and as a subprocess: one clear line
on stderr, exit 2 (usage) or 1 (runtime), no traceback, nothing attached."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ringscope.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
RINGSCOPE = [sys.executable, "-m", "ringscope"]
NOBODY = 65534

CASES = [
    (["trace", "-e", "nosuch"], 2, "unknown event 'nosuch'"),
    (["trace", "-e", "exec,bogus"], 2, "unknown event 'bogus'"),
    (["trace", "-p", "abc"], 2, "bad pid 'abc'"),
    (["trace", "-p", "-5"], 2, "bad pid"),
    (["trace", "-p", "999999999"], 2, "bad pid"),
    (["trace", "--ring-size", "5000"], 2, "not a power of two"),
    (["trace", "--ring-size", "1024"], 2, "too small"),
    (["trace", "--ring-size", "lots"], 2, "bad size"),
    (["trace", "--ring-size", "16G"], 2, "too large (maximum 1073741824 bytes, 1G)"),
    (["trace", "--comm", "x" * 20], 2, "bad comm"),
    (["trace", "--comm", "\udcff" * 16], 2, "bad comm"),  # 16 bytes that are not UTF-8
    (["trace", "--uid", "no-such-user-here"], 2, "bad uid"),
    (["trace", "--cgroup", "no/such/cgroup"], 2, "bad cgroup"),
    (["trace", "-n", "0"], 2, "bad count"),
    (["trace", "--format", "xml"], 2, "invalid choice"),
    (["trace", "--", "/no/such/binary"], 127, "cannot run"),  # as a shell: not found
    (["trace", "--", "/proc/version"], 126, "Permission denied"),  # as a shell: not executable
    (["nosuchcommand"], 2, "invalid choice"),
    (["--bogus"], 2, "unrecognized arguments: --bogus"),  # not "required: COMMAND"
]


def _one_line(err: str, expect: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    assert lines[0].startswith("ringscope: error: ")
    assert expect in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize(("argv", "code", "expect"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_in_process(
    argv: list[str], code: int, expect: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == code
    _one_line(capsys.readouterr().err, expect)


@pytest.mark.parametrize(("argv", "code", "expect"), CASES[:6], ids=[" ".join(c[0]) for c in CASES[:6]])
def test_bad_input_subprocess(argv: list[str], code: int, expect: str) -> None:
    p = subprocess.run([*RINGSCOPE, *argv], capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == code
    _one_line(p.stderr, expect)


@contextmanager
def _as_nobody() -> Iterator[None]:
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)


def test_not_root_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    with _as_nobody():
        code = main(["trace", "-n", "1"])
    assert code == 1
    _one_line(capsys.readouterr().err, "needs CAP_BPF and CAP_PERFMON")


def test_not_root_subprocess() -> None:
    # Drop the effective uid only after start-up (imports done): the
    # interpreter may live where nobody cannot read it (a pyenv under /root).
    code = (
        "import os, sys; from ringscope.cli.main import build_parser, main; build_parser(); "
        f"os.seteuid({NOBODY}); sys.exit(main(['trace']))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 1
    _one_line(p.stderr, "needs CAP_BPF and CAP_PERFMON")


def test_missing_kernel_feature(capsys: pytest.CaptureFixture[str]) -> None:
    from ringscope import features

    if features.probe().kprobes.available:
        pytest.skip("this kernel has kprobes")
    assert main(["trace", "-e", "kprobe:vfs_read"]) == 1
    _one_line(capsys.readouterr().err, "not supported by this kernel: CONFIG_KPROBES is off")


@pytest.fixture
def broken_objects(tmp_path: Path) -> Path:
    """An object dir whose file.bpf.o the verifier rejects."""
    clang = shutil.which("clang")
    assert clang, "clang is installed by make setup"
    inc = ROOT / "bpf" / "include"
    subprocess.run([clang, "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86", f"-I{inc}", "-c",
                    str(ROOT / "tests/data/bad_file.bpf.c"), "-o", str(tmp_path / "file.bpf.o")], check=True)  # fmt: skip
    return tmp_path


def test_verifier_rejection(
    broken_objects: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RINGSCOPE_BPF_DIR", str(broken_objects))
    assert main(["trace", "-e", "open", "-n", "1"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("ringscope: error: load file.bpf.o: verifier rejected the program: ")
    assert re.search(r"invalid access|outside of the allowed memory range", err[0])
    assert err[1:] == ["ringscope: (run with -v for the verifier log)"]
    assert main(["-v", "trace", "-e", "open", "-n", "1"]) == 1
    log = capsys.readouterr().err
    assert "-- BEGIN PROG LOAD LOG --" in log and "processed" in log and "Traceback" not in log


def _kernel_attachments() -> list[str]:
    """This process's fds that hold an attachment: BPF links, perf events."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target in ("anon_inode:bpf_link", "anon_inode:[perf_event]"):
            out.append(target)
    return out


def test_close_detaches_everything() -> None:
    from ringscope.session import Session

    before = _kernel_attachments()
    with Session(["exec", "exit", "open", "connect"]) as s:
        assert len(_kernel_attachments()) >= len(before) + len(s.links) > len(before)
    assert _kernel_attachments() == before


def test_ctrl_c_exits_cleanly() -> None:
    p = subprocess.Popen([*RINGSCOPE, "trace", "-e", "exec,open"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)  # fmt: skip
    try:
        assert p.stdout is not None
        assert "EVENT" in p.stdout.readline()  # the header: attached and reading
        p.send_signal(signal.SIGINT)
        _out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 130, err  # Ctrl-C on a system-wide run, as perf
    assert "Traceback" not in err
    assert "events, lost 0 in the kernel" in err
