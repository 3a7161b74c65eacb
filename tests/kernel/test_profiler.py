"""The profiler on a stock distribution (issue 10): DWARF call graphs
through code without frame pointers, mappings from the stream for short
and exec'd processes, per-address rows for stripped code, tracepoint
stacks, `script` and pprof output read by real tools."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ringscope.perf.profile import Profile
from ringscope.perf.report import Stack, resolve
from tests.conftest import need
from tests.kernel.profiler_workloads import FAULTS_C, LAB_C, SLEEPER_C, VDSO_C, build

RINGSCOPE = str(Path(sys.executable).parent / "ringscope")
PYTHON = "/usr/bin/python3.11"  # Debian's: no frame pointers, stripped, libpython linked in


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RINGSCOPE, *args], capture_output=True, text=True, timeout=timeout)


def _record(out: Path, *args: str) -> Profile:
    res = _run("record", "-o", str(out), *args)
    assert res.returncode == 0, res.stderr
    return Profile.load(out)


def _names(st: Stack) -> list[str]:
    return [f.name for f in st.frames]


@pytest.fixture(scope="module")
def bins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need(shutil.which("gcc") is not None, "gcc is needed to build the workloads")
    d = tmp_path_factory.mktemp("prof")
    out = {
        "lab": build(LAB_C, d / "lab", "-O2", "-g", "-fomit-frame-pointer"),
        "faults": build(FAULTS_C, d / "faults", "-O1", "-g"),
        "sleeper": build(SLEEPER_C, d / "sleeper", "-O2", "-g"),
        "vdso": build(VDSO_C, d / "vdso", "-O2", "-g"),
    }
    # Built apart (-g0: another build id), or its symbols would be found
    # through the unstripped one's build id, as perf's build-id cache does.
    out["stripped"] = build(LAB_C, d / "lab-stripped", "-O2", "-g0", "-fomit-frame-pointer")
    subprocess.run(["strip", str(out["stripped"])], check=True)
    launcher = d / "launch.sh"
    launcher.write_text(f'#!/bin/sh\nexec {out["lab"]} "$@"\n')
    launcher.chmod(0o755)
    out["launcher"] = launcher
    return out


@pytest.fixture(scope="module")
def lab_dwarf(bins: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("dwarf") / "lab.profile"
    res = _run("record", "-F", "999", "--call-graph", "dwarf", "-o", str(out), "--", str(bins["lab"]), "0.5")
    assert res.returncode == 0, res.stderr
    return out, res.stderr


def test_dwarf_unwinds_code_without_frame_pointers(lab_dwarf: tuple[Path, str]) -> None:
    prof = Profile.load(lab_dwarf[0])
    assert prof.meta["callgraph"] == "dwarf,8192" and prof.per_sample
    leaves = [st for st in resolve(prof) if st.leaf.name in ("leaf_a", "leaf_b")]
    n = sum(st.count for st in leaves)
    assert n >= 20, "too few samples in the leaves"
    good = sum(st.count for st in leaves if _names(st)[-3:-1] == ["main", "driver"])
    assert good >= 0.95 * n, [(_names(st), st.count) for st in leaves]
    # and below main, libc's start code (itself without frame pointers)
    assert any("__libc_start_call_main" in _names(st) for st in leaves)


def test_fp_stops_at_the_leaf_where_dwarf_does_not(bins: dict[str, Path], tmp_path: Path) -> None:
    """The reason for dwarf: -g on -fomit-frame-pointer code cannot reach main."""
    prof = _record(tmp_path / "fp.profile", "-F", "999", "-g", "--", str(bins["lab"]), "0.3")
    leaves = [st for st in resolve(prof) if st.leaf.name in ("leaf_a", "leaf_b")]
    good = sum(st.count for st in leaves if _names(st)[-3:-1] == ["main", "driver"])
    assert good < 0.5 * sum(st.count for st in leaves)


def test_python_dwarf_reaches_main(tmp_path: Path) -> None:
    need(os.path.exists(PYTHON), f"{PYTHON} (Debian python3.11)")
    loop = "s = 0\nfor i in range(3_000_000): s += i * i\n"
    prof = _record(tmp_path / "py.profile", "-F", "999", "--call-graph", "dwarf", "--", PYTHON, "-c", loop)
    stacks = sorted(resolve(prof), key=lambda st: -st.count)
    top = [st for st in stacks if st.frames and not st.frames[-1].kernel][:5]
    assert top
    for st in top:
        names = _names(st)
        assert "_PyEval_EvalFrameDefault" in names, names
        assert {"main", "Py_RunMain", "Py_BytesMain"} & set(names), names
        assert len(names) < 64  # no garbage tower
        assert all(f.dso != "[unknown]" for f in st.frames), names  # every frame in a mapped file


@pytest.mark.parametrize("run", range(3))
def test_3ms_process_is_symbolized(bins: dict[str, Path], tmp_path: Path, run: int) -> None:
    """Maps come from MMAP2 records: a process gone before any /proc poll
    is still named."""
    prof = _record(tmp_path / "f.profile", "-e", "page-faults", "-c", "1", "--", str(bins["faults"]), "1000")
    top = Counter()
    for st in resolve(prof):
        top[st.leaf.name] += st.count
    name, count = top.most_common(1)[0]
    assert name == "touch" and count >= 0.8 * prof.total, top.most_common(5)


@pytest.mark.parametrize("run", range(3))
def test_exec_launcher_is_symbolized(bins: dict[str, Path], tmp_path: Path, run: int) -> None:
    """A shell script that execs the program: the exec's COMM and MMAP2
    records switch the process to the new image."""
    prof = _record(tmp_path / "l.profile", "-F", "999", "-g", "--", str(bins["launcher"]), "0.3")
    top = Counter()
    for st in resolve(prof):
        top[st.leaf.name] += st.count
    assert top.most_common(1)[0][0] in ("leaf_a", "leaf_b"), top.most_common(5)
    assert sum(n for k, n in top.items() if k.startswith("0x") or k == "[unknown]") < 0.1 * prof.total


def test_stripped_binary_keeps_addresses(bins: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "s.profile"
    _record(out, "-F", "999", "--", str(bins["stripped"]), "0.3")
    res = _run("report", "-i", str(out), "--sort", "dso,sym")
    rows = [ln.split() for ln in res.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
    mine = [r for r in rows if r[1] == "lab-stripped"]
    assert len(mine) >= 2, res.stdout  # one row per address, not one [unknown]
    assert all(re.fullmatch(r"0x[0-9a-f]+", r[3]) for r in mine), mine
    assert not any(r[3] == "[unknown]" and float(r[0].rstrip("%")) > 10 for r in rows), res.stdout


_HEAD = re.compile(r"^(\S.*) (\d+)/(\d+) \[(\d{3})\] (\d+)\.(\d{6}): (\d+) (\S+):$")
_FRAME = re.compile(r"^\t *[0-9a-f]+ \S.* \((\S+)\)$")


def test_script_format(lab_dwarf: tuple[Path, str]) -> None:
    out, stderr = lab_dwarf
    res = _run("script", "-i", str(out))
    assert res.returncode == 0, res.stderr
    blocks = res.stdout.split("\n\n")
    assert blocks[-1] == ""
    last, count = -1.0, 0
    for block in blocks[:-1]:
        head, *frames = block.split("\n")
        m = _HEAD.match(head)
        assert m, head
        ts = int(m.group(5)) + int(m.group(6)) / 1e6
        assert ts >= last
        last = ts
        assert frames and all(_FRAME.match(f) for f in frames), block
        count += 1
    recorded = int(re.search(r"record: (\d+) samples", stderr).group(1))  # type: ignore[union-attr]
    assert count == recorded == Profile.load(out).total


def test_pprof_agrees_with_report(lab_dwarf: tuple[Path, str], tmp_path: Path) -> None:
    need(shutil.which("go") is not None, "go (Debian golang-go) for go tool pprof")
    out = lab_dwarf[0]
    pb = tmp_path / "lab.pb.gz"
    assert _run("report", "-i", str(out), "--format", "pprof", "-o", str(pb)).returncode == 0
    env = {**os.environ, "HOME": str(tmp_path), "GOCACHE": str(tmp_path / "gocache"), "GOFLAGS": "",
           "GOPROXY": "off", "GOTOOLCHAIN": "local"}  # fmt: skip
    res = subprocess.run(
        ["go", "tool", "pprof", "-top", str(pb)], capture_output=True, text=True, timeout=120, env=env
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    first = lines[lines.index(next(ln for ln in lines if ln.strip().startswith("flat"))) + 1].split()
    rep = _run("report", "-i", str(out), "--sort", "sym")
    top = next(ln.split() for ln in rep.stdout.splitlines() if ln.strip() and not ln.startswith("#"))
    assert first[-1] == top[-1], (res.stdout, rep.stdout)
    assert f"Total samples = {Profile.load(out).total}" in res.stdout


def test_srcline_and_children(lab_dwarf: tuple[Path, str]) -> None:
    out = lab_dwarf[0]
    res = _run("report", "-i", str(out), "--sort", "srcline", "-n", "3")
    assert res.returncode == 0 and re.search(r"lab\.c:\d+", res.stdout), res.stdout
    res = _run("report", "-i", str(out), "-g", "-n", "1")
    assert re.search(r"driver lab\.c:\d+", res.stdout), res.stdout
    res = _run("report", "-i", str(out), "--sort", "sym", "--children", "--percent-limit", "50")
    rows = [ln.split() for ln in res.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
    main = next(r for r in rows if r[-1] == "main")
    assert float(main[0].rstrip("%")) > 95 and float(main[1].rstrip("%")) < 5
    assert all(float(r[0].rstrip("%")) >= 50 for r in rows)


@pytest.mark.parametrize("mode", ["dwarf", "fp"])
def test_tracepoint_samples_have_user_stacks(bins: dict[str, Path], tmp_path: Path, mode: str) -> None:
    cg = ["--call-graph", "dwarf"] if mode == "dwarf" else ["-g"]
    prof = _record(
        tmp_path / "tp.profile", "-e", "sched:sched_switch", "-c", "1", *cg, "--", str(bins["sleeper"]), "50"
    )
    mine = [st for st in resolve(prof) if st.comm == "sleeper"]
    n = sum(st.count for st in mine)
    assert n >= 50  # one switch per sleep at least
    assert all(st.frames and st.frames[-1].kernel for st in mine)  # the leaf is the scheduler
    user = sum(st.count for st in mine if any(not f.kernel for f in st.frames))
    assert user >= 0.9 * n
    if mode == "dwarf":  # through libc (no frame pointers) to the caller
        reach = sum(st.count for st in mine if {"napper", "main"} <= set(_names(st)))
        assert reach >= 0.9 * n, [_names(st) for st in mine]


def test_top_with_dwarf(bins: dict[str, Path]) -> None:
    with subprocess.Popen([str(bins["lab"]), "20"]) as proc:
        try:
            res = _run(
                "top", "-p", str(proc.pid), "--call-graph", "dwarf", "-n", "1", "-d", "0.5", timeout=60
            )
        finally:
            proc.kill()
    assert res.returncode == 0, res.stderr
    assert "leaf_a" in res.stdout or "leaf_b" in res.stdout


@pytest.mark.parametrize(
    ("args", "code", "msg"),
    [
        (["report", "-n", "0"], 2, "positive"),
        (["report", "-n", "-3"], 2, "positive"),
        (["top", "--rows", "0"], 2, "--rows"),
        (["report", "--percent-limit", "x"], 2, "percent"),
        (["report", "-i", "/dev/zero"], 2, "not a ringscope profile"),
    ],
)
def test_report_bad_input(args: list[str], code: int, msg: str) -> None:
    res = _run(*args, timeout=5)  # /dev/zero must be refused at once, not read
    assert res.returncode == code, res.stderr
    assert msg in res.stderr and res.stderr.count("\n") == 1


def test_report_write_error(lab_dwarf: tuple[Path, str]) -> None:
    res = _run("report", "-i", str(lab_dwarf[0]), "-o", "/dev/full")
    assert res.returncode == 1 and "No space left" in res.stderr and res.stderr.count("\n") == 1
    res = _run("script", "-i", str(lab_dwarf[0]), "-o", "/dev/full")
    assert res.returncode == 1 and res.stderr.count("\n") == 1


def test_profile_for_api(bins: dict[str, Path]) -> None:
    """The call behind GET /api/profile: S seconds of one process."""
    from ringscope.errors import BadInput
    from ringscope.perf import profile_for

    with subprocess.Popen([str(bins["lab"]), "20"]) as proc:
        try:
            prof = profile_for(0.4, pid=proc.pid, callgraph="dwarf", freq=499)
        finally:
            proc.kill()
    assert prof.per_sample and prof.meta["callgraph"] == "dwarf,8192"
    assert set(prof.samples["pid"].tolist()) == {proc.pid}
    assert any(st.leaf.name in ("leaf_a", "leaf_b") for st in resolve(prof))
    with pytest.raises(BadInput):
        profile_for(0)


_VDSO_NAMES = ("__vdso_clock_gettime", "clock_gettime")  # aliases in the vDSO's .dynsym


@pytest.mark.parametrize("mode", ["dwarf", "fp", "aggregate"])
def test_vdso_frames_are_named_and_unwound(bins: dict[str, Path], tmp_path: Path, mode: str) -> None:
    """The vDSO has no file: its image is read from memory and used like one."""
    cg = {"dwarf": ["--call-graph", "dwarf"], "fp": ["-g"], "aggregate": ["-g", "--aggregate"]}[mode]
    out = tmp_path / "vdso.profile"
    prof = _record(out, "-F", "999", *cg, "--", str(bins["vdso"]), "0.5")
    stacks = resolve(prof)
    top = Counter()
    for st in stacks:
        top[(st.leaf.dso, st.leaf.name)] += st.count
    (dso, name), count = top.most_common(1)[0]
    assert dso == "[vdso]" and name in _VDSO_NAMES and count >= 0.5 * prof.total, top.most_common(5)
    if mode == "dwarf":  # through the vDSO's own CFI and libc's to the workload
        mine = [st for st in stacks if st.leaf.dso == "[vdso]"]
        reach = sum(st.count for st in mine if {"ticker", "main"} <= set(_names(st)))
        assert reach >= 0.9 * count, [(_names(st), st.count) for st in mine]
    res = _run("report", "-i", str(out), "--sort", "dso,sym", "-n", "1")
    assert res.returncode == 0 and re.search(r"\[vdso\] +\[\.\] (__vdso_)?clock_gettime", res.stdout), (
        res.stdout
    )
