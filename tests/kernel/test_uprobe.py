"""uprobes and uretprobes on a PIE program the test compiles, and on libc.
The program waits for a byte on stdin, so probes are attached before it runs."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ringscope.catalog import probe_points
from ringscope.errors import BadInput
from ringscope.events.spec import Row
from ringscope.filters import Filter
from ringscope.session import Session
from ringscope.sources import resolve_probe as resolve
from ringscope.sources.funcprobe import find_binary
from ringscope.symbols.elf import build_id, debug_file
from tests.conftest import need
from tests.kernel.collect import collect

PROG_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) long rs_add(long a, long b, long c)
{
	asm volatile("" ::: "memory");
	return a * 100 + b * 10 + c;
}

int main(int argc, char **argv)
{
	int n = atoi(argv[1]);
	char go;
	if (read(0, &go, 1) != 1)
		return 1;
	long total = 0;
	for (int i = 0; i < n; i++)
		total += rs_add(i, 2, 3);
	usleep(1234);
	printf("%ld\n", total);
	return 0;
}
"""
CALLS = 5


@pytest.fixture(scope="module")
def prog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(shutil.which("gcc") is not None, "gcc is needed to build the probed program")
    d = tmp_path_factory.mktemp("uprobe")
    (d / "prog.c").write_text(PROG_C)
    subprocess.run(["gcc", "-O1", "-g", "-fPIE", "-pie", "-o", d / "prog", d / "prog.c"], check=True)
    out = subprocess.run(["file", "-L", d / "prog"], capture_output=True, text=True).stdout
    assert "pie executable" in out or "shared object" in out, out
    return d / "prog"


def run_traced(prog: Path, specs: list[str], want: int) -> list[Row]:
    """Start `prog`, trace it by pid with `specs`, let it run, collect events."""
    rows: list[Row] = []
    with subprocess.Popen([str(prog), str(CALLS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE) as child:
        assert child.stdin is not None and child.stdout is not None
        try:
            specs = [s.replace("PROG", str(prog)) for s in specs]
            with Session(specs, filter=Filter(pid=child.pid)) as s:
                child.stdin.write(b"g")
                child.stdin.close()
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and len(rows) < want:
                    rows.extend(r for r in s.events(duration=0.05) if r["type"] != "lost")
        finally:
            child.stdin.close()
            out = child.stdout.read()
            child.wait(10)
    assert child.returncode == 0
    assert int(out) == sum(i * 100 + 23 for i in range(CALLS))
    return rows


def test_uprobe_args_on_pie_function(prog: Path) -> None:
    rows = run_traced(prog, ["uprobe:PROG:rs_add"], CALLS)
    assert [r["args"][:3] for r in rows] == [[i, 2, 3] for i in range(CALLS)]
    assert {r["type"] for r in rows} == {f"uprobe:{prog}:rs_add"}
    assert all(r["comm"] == "prog" for r in rows)


def test_uretprobe_return_value_latency_and_entry_args(prog: Path) -> None:
    rows = run_traced(prog, ["uretprobe:PROG:rs_add"], CALLS)
    assert [r["ret"] for r in rows] == [i * 100 + 23 for i in range(CALLS)]
    assert [r["args"][:3] for r in rows] == [[i, 2, 3] for i in range(CALLS)]
    assert all(0 < r["latency_ns"] < 1_000_000_000 for r in rows)


def test_uprobe_on_libc_function(prog: Path) -> None:
    rows = run_traced(prog, ["uprobe:libc:usleep", "uprobe:PROG:rs_add"], CALLS + 1)
    sleeps = [r for r in rows if r["type"] == "uprobe:libc:usleep"]
    assert [r["args"][0] for r in sleeps] == [1234]
    adds = [r for r in rows if r["type"].endswith(":rs_add")]
    assert len(adds) == CALLS and adds[-1]["seq"] < sleeps[0]["seq"]  # stream order is call order


def test_stripped_binary_without_the_symbol(prog: Path, tmp_path: Path) -> None:
    need(shutil.which("strip") is not None, "binutils strip is needed")
    stripped = tmp_path / "prog-stripped"
    subprocess.run(["strip", "-o", stripped, prog], check=True)
    with pytest.raises(BadInput, match="stripped binary"):
        resolve(f"uprobe:{stripped}:rs_add")


# qsort's merge step: a static function, so only in libc's debug file's
# .symtab (libc6-dbg), under the name gcc gave its outlined part.
MSORT = "msort_with_tmp.part.0"


def test_uprobe_on_a_function_only_in_the_debug_file() -> None:
    libc = find_binary("libc")
    need(debug_file(build_id(libc)) is not None, f"the debug file of {libc} (Debian libc6-dbg)")
    assert any(p["name"] == f"uprobe:libc:{MSORT}" for p in probe_points("uprobe:libc:msort*"))
    cmp_t = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
    by_value = cmp_t(lambda a, b: a[0] - b[0])
    values = (ctypes.c_int * 5)(5, 3, 1, 4, 2)
    with Session([f"uprobe:libc:{MSORT}"], filter=Filter(pid=os.getpid())) as s:
        ctypes.CDLL(str(libc)).qsort(values, 5, ctypes.sizeof(ctypes.c_int), by_value)
        rows = collect(s, lambda rows: any(r["type"] != "lost" for r in rows))
    assert list(values) == [1, 2, 3, 4, 5]
    calls = [r for r in rows if r["type"] == f"uprobe:libc:{MSORT}"]
    assert calls and {r["pid"] for r in calls} == {os.getpid()}
    assert calls[0]["args"][2] == 5  # msort_with_tmp(p, b, n): the whole array first


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("uprobe:/no/such/binary:main", "no such binary '/no/such/binary'"),
        ("uprobe:no-such-program-xyz:main", "no such binary or library"),
        ("uretprobe:libc:no_such_function_xyz", "no function 'no_such_function_xyz'"),
        ("uprobe:/etc/hostname:main", "not an ELF file"),
        ("uprobe:main", "malformed probe spec"),
    ],
)
def test_bad_uprobe_specs(spec: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        Session([spec])


def test_pid_restricts_the_probe_to_one_process(prog: Path) -> None:
    args = [str(prog), str(CALLS)]
    pipe = subprocess.PIPE
    with (
        subprocess.Popen(args, stdin=pipe, stdout=subprocess.DEVNULL) as mine,
        subprocess.Popen(args, stdin=pipe, stdout=subprocess.DEVNULL) as other,
    ):
        assert mine.stdin is not None and other.stdin is not None
        rows: list[Row] = []
        try:
            with Session([f"uprobe:{prog}:rs_add"], filter=Filter(pid=mine.pid)) as s:
                for child in (other, mine):
                    assert child.stdin is not None
                    child.stdin.write(b"g")
                    child.stdin.close()
                    assert child.wait(10) == 0
                time.sleep(0.05)
                rows.extend(r for r in s.events(duration=0.2) if r["type"] != "lost")
        finally:
            mine.stdin.close()
            other.stdin.close()
    assert len(rows) == CALLS and {r["pid"] for r in rows} == {mine.pid}
