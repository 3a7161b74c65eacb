"""`ringscope record` + `report` on programs the test compiles."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from ringscope.perf.profile import Profile
from ringscope.perf.record import record
from ringscope.perf.report import resolve
from ringscope.perf.tasks import TaskMaps
from tests.conftest import need
from tests.kernel.perf_workloads import HOT_C, SYSCALLS_C, build
from tests.unit.speedscope_schema import SCHEMA

RINGSCOPE = str(Path(sys.executable).parent / "ringscope")
HW_PMU = Path("/sys/bus/event_source/devices/cpu").exists()


@pytest.fixture(scope="module")
def bins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need(shutil.which("gcc") is not None, "gcc is needed to build the workloads")
    d = tmp_path_factory.mktemp("record")
    # -pie explicitly: the symbolizer must undo the load offset.
    return {"hot": build(HOT_C, d / "hot", "-pie", "-fPIE"), "sys": build(SYSCALLS_C, d / "sys")}


@pytest.fixture(scope="module")
def hot_profile(bins: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prof") / "hot.profile"
    res = _run("record", "-F", "999", "-g", "-o", str(out), "--", str(bins["hot"]), "0.8")
    assert res.returncode == 0, res.stderr
    assert "samples" in res.stderr
    return out


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RINGSCOPE, *args], capture_output=True, text=True, timeout=120)


def _top_symbol(profile: Path, *extra: str) -> str:
    res = _run("report", "-i", str(profile), "--sort", "sym", *extra)
    assert res.returncode == 0, res.stderr
    rows = [ln.split() for ln in res.stdout.splitlines() if ln and not ln.startswith("#")]
    rows = [r for r in rows if r[0].endswith("%")]
    return rows[0][-1]


def test_hot_function_is_top_symbol(hot_profile: Path) -> None:
    assert _top_symbol(hot_profile) == "hot_spin"
    assert _top_symbol(hot_profile, "--stdio") == "hot_spin"  # perf's habit is accepted
    prof = Profile.load(hot_profile)
    assert prof.stats["lost"] == 0
    assert prof.total >= 50  # ~0.8 s at 999 Hz when on CPU; other test suites share the 2 CPUs
    # call chains: hot_spin is called from main
    stacks = [s for s in resolve(prof) if s.leaf.name == "hot_spin"]
    assert any([f.name for f in s.frames][-2:] == ["main", "hot_spin"] for s in stacks)
    hot_bin = next(d for d in prof.dsos if d.path.endswith("/hot"))
    assert hot_bin.build_id  # gcc emits a build id by default, and MMAP2 carries it


def test_callgraph_text(hot_profile: Path) -> None:
    res = _run("report", "-i", str(hot_profile), "-g", "-n", "1")
    assert res.returncode == 0
    assert "hot_spin" in res.stdout and "main" in res.stdout and "|--" in res.stdout


def test_without_callchain_still_finds_hot_function(bins: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "flat.profile"
    res = _run("record", "-F", "499", "-o", str(out), "--", str(bins["hot"]), "0.5")
    assert res.returncode == 0, res.stderr
    assert _top_symbol(out) == "hot_spin"


def test_kernel_symbols_for_syscall_workload(bins: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "sys.profile"
    res = _run("record", "-F", "999", "-g", "-o", str(out), "--", str(bins["sys"]), "0.6")
    assert res.returncode == 0, res.stderr
    rep = _run("report", "-i", str(out), "--sort", "dso")
    kernel_pct = next(
        float(ln.split()[0].rstrip("%")) for ln in rep.stdout.splitlines() if "[kernel.kallsyms]" in ln
    )
    assert kernel_pct > 50, rep.stdout
    folded = _run("report", "-i", str(out), "--format", "folded").stdout
    assert "do_syscall_64_[k]" in folded or "x64_sys_call_[k]" in folded
    assert any(name in folded for name in ("read_zero", "ksys_read", "vfs_read", "__x64_sys_read"))


def test_folded_speedscope_svg(hot_profile: Path) -> None:
    folded = _run("report", "-i", str(hot_profile), "--format", "folded").stdout
    total = 0
    for line in folded.splitlines():
        stack, count = line.rsplit(" ", 1)
        assert all(stack.split(";")) and " " not in stack
        total += int(count)
    assert total == Profile.load(hot_profile).total
    doc = json.loads(_run("report", "-i", str(hot_profile), "--format", "speedscope").stdout)
    jsonschema.validate(doc, SCHEMA)
    svg = _run("report", "-i", str(hot_profile), "--format", "svg").stdout
    assert "hot_spin" in svg
    ET.fromstring(svg)


def test_pid_and_system_wide(bins: dict[str, Path]) -> None:
    with subprocess.Popen([str(bins["hot"]), "3"]) as proc:
        try:
            time.sleep(0.2)
            prof, code = record(pid=proc.pid, freq=499, callchain=True, duration=0.5)
        finally:
            proc.kill()
    assert code == 0 and prof.total > 10  # CPU time of a process that shares 2 CPUs
    assert set(prof.samples["pid"].tolist()) == {proc.pid}
    assert any(s.leaf.name == "hot_spin" for s in resolve(prof))
    prof, _ = record(system_wide=True, freq=99, argv=["sleep", "0.3"])
    assert prof.total > 0 and prof.meta["target"] == "'system wide'"


@pytest.mark.parametrize(
    ("args", "code", "msg"),
    [
        (["record", "-e", "nosuchevent", "--", "true"], 2, "unknown event"),
        (["record", "-p", "999999999"], 2, "no such process"),
        (["record", "--aggregate", "-e", "sched:sched_switch", "--", "true"], 2, "not tracepoint"),
        (["record", "--aggregate", "--call-graph", "dwarf", "--", "true"], 2, "frame-pointer"),
        (["record", "--call-graph", "lbr", "--", "true"], 2, "--call-graph"),
        (["record", "--call-graph", "dwarf,70000", "--", "true"], 2, "SIZE"),
        (["record", "-F", "0", "--", "true"], 2, "positive"),
        (["record"], 2, "nothing to profile"),
        (["report", "-i", "/nonexistent/profile"], 2, "cannot read profile"),
        (["report", "--sort", "bogus"], 2, "--sort"),
    ],
)
def test_bad_input(args: list[str], code: int, msg: str) -> None:
    res = _run(*args)
    assert res.returncode == code, res.stderr
    assert msg in res.stderr and res.stderr.count("\n") == 1


def test_unsupported_hw_event() -> None:
    if HW_PMU:
        pytest.skip("this machine has a hardware PMU")
    res = _run("record", "-e", "cycles", "--", "true")
    assert res.returncode == 1
    assert "not supported" in res.stderr and res.stderr.count("\n") == 1


def test_corrupt_profile(tmp_path: Path) -> None:
    bad = tmp_path / "bad.profile"
    bad.write_text('{"format": "ringscope-profile", "version": 1, "samples": [')
    res = _run("report", "-i", str(bad))
    assert res.returncode == 2 and "corrupt profile" in res.stderr and res.stderr.count("\n") == 1


def test_non_root(tmp_path: Path) -> None:
    need(shutil.which("setpriv") is not None, "setpriv (util-linux) drops privileges")
    res = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", RINGSCOPE, "record",
         "-o", str(tmp_path / "x"), "--", "true"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": "/tmp"},
    )  # fmt: skip
    assert res.returncode == 1 and "needs CAP_PERFMON" in res.stderr and res.stderr.count("\n") == 1


def test_period_and_sort_keys(bins: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "period.profile"
    # cpu-clock counts nanoseconds: a sample every 2 ms of CPU time.
    res = _run("record", "-e", "cpu-clock", "-c", "2000000", "-o", str(out), "--", str(bins["hot"]), "0.5")
    assert res.returncode == 0, res.stderr
    prof = Profile.load(out)
    assert prof.meta["period"] == 2_000_000 and prof.meta["freq"] is None
    assert set(prof.samples["period"].tolist()) == {2_000_000}
    assert 10 <= prof.total <= 400  # CPU time / 2 ms: fewer when other tests share the CPUs
    by_comm = _run("report", "-i", str(out), "--sort", "comm").stdout
    top = next(ln.split() for ln in by_comm.splitlines() if ln.strip().endswith("hot"))
    assert float(top[0].rstrip("%")) > 80
    by_dso = _run("report", "-i", str(out), "--sort", "dso,sym", "-n", "1").stdout
    assert "hot_spin" in by_dso


def test_aggregate_mode(bins: dict[str, Path], tmp_path: Path) -> None:
    """The BPF mode: counts per stack, no per-sample rows, same hot symbol."""
    out = tmp_path / "agg.profile"
    res = _run("record", "--aggregate", "-F", "499", "-g", "-o", str(out), "--", str(bins["hot"]), "0.4")
    assert res.returncode == 0, res.stderr
    assert _top_symbol(out) == "hot_spin"
    prof = Profile.load(out)
    assert not prof.per_sample and prof.total >= 10
    assert len(prof.samples) < prof.total  # aggregated rows
    res = _run("script", "-i", str(out))
    assert res.returncode == 2 and "per-sample" in res.stderr


def test_the_default_frequency_is_999_hz_as_top(tmp_path: Path) -> None:
    out = tmp_path / "p.profile"
    res = subprocess.run([RINGSCOPE, "record", "-o", str(out), "--", "true"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert Profile.load(out).meta["freq"] == 999
    help_text = subprocess.run([RINGSCOPE, "record", "--help"], capture_output=True, text=True).stdout
    assert "default 999" in " ".join(help_text.split())


BUSY_NAMED = (
    "import ctypes, sys, time\n"
    "ctypes.CDLL(None).prctl(15, b'rs-preexisting', 0, 0, 0)\n"  # PR_SET_NAME
    "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
    "end = time.monotonic() + 0.8\n"
    "while time.monotonic() < end: pass\n"
)


def test_system_wide_comms_name_idle_and_processes_that_predate_the_recording(tmp_path: Path) -> None:
    """The idle task is `swapper` (as perf), and a process that ran before
    recording began (no COMM record) keeps its name though it exits first."""
    out = tmp_path / "a.profile"
    with subprocess.Popen([sys.executable, "-c", BUSY_NAMED], stdout=subprocess.PIPE, text=True) as busy:
        assert busy.stdout is not None and busy.stdout.readline() == "ready\n"
        res = subprocess.run([RINGSCOPE, "record", "-a", "--duration", "1.5", "-o", str(out)],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        busy.wait()
    assert res.returncode == 0, res.stderr
    prof = Profile.load(out)
    pids = dict(zip(prof.samples["pid"].tolist(), prof.samples["comm"].tolist(), strict=True))
    assert prof.comms[pids[busy.pid]] == "rs-preexisting"
    # The idle task is sampled only if a CPU idled (not on a busy machine).
    assert prof.comms[pids[0]] == "swapper" if 0 in pids else TaskMaps().name(0, 0) == "swapper"
    assert "0" not in prof.comms


THREADS = (
    "import sys, threading, time\n"
    "def spin():\n"
    "    end = time.monotonic() + 3\n"
    "    while time.monotonic() < end: pass\n"
    "ts = [threading.Thread(target=spin) for _ in range(3)]\n"
    "[t.start() for t in ts]\n"
    "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
    "[t.join() for t in ts]\n"
)


def test_record_p_of_a_threaded_process(tmp_path: Path) -> None:
    """One event per thread and CPU, sharing the CPU's ring: the redirect
    comes after the ring's mmap (before it, the kernel said EINVAL)."""
    out = tmp_path / "t.profile"
    with subprocess.Popen([sys.executable, "-c", THREADS], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        res = subprocess.run([RINGSCOPE, "record", "-p", str(proc.pid), "--duration", "0.5", "-o", str(out)],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        proc.kill()
    assert res.returncode == 0, res.stderr
    assert len(set(Profile.load(out).samples["tid"].tolist())) >= 2
