"""The pinned vmlinux.h holds this kernel's offsets, so objects built from
it would read the right fields here even without CO-RE. Proof that the
fields are relocated instead: objects built from a copy in which the
members of task_struct, pt_regs and the tracepoint records sit 8 bytes
from where any kernel has them still deliver correct events here, and the same
copy with relocation turned off (BPF_NO_PRESERVE_ACCESS_INDEX) does not,
which shows the check can fail."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging import workload
from tests.packaging.artefacts import Venv, bpfbuild

pytestmark = [pytest.mark.packaging, pytest.mark.usefixtures("root")]

# A struct's first member when it is 8 bytes (padding, or an unsigned long),
# or task_struct's embedded thread_info (24 bytes, 8-aligned).
FIRST_8 = re.compile(
    r"^(struct \w+ \{\n)(\t(?:long: 64|long unsigned int \w+|struct thread_info thread_info);\n)((?:.*\n)*?)(\};)$",
    re.M,
)
# Profiled without -g, so each sample's ip is read from pt_regs. A C program
# with its symbol table: the distribution's interpreters are stripped.
SPIN = "volatile long x;\nint main(void) { for (long i = 0; i < 400000000; i++) x += i; return 0; }\n"


def shifted(header: str) -> str:
    """`header` with the first member of each struct that starts with 8
    bytes (or with thread_info) moved to its end: the other members lower,
    the size the same (so structs embedded by value keep their layout)."""
    moved = {m[1].split()[1] for m in FIRST_8.finditer(header)}
    assert {"task_struct", "pt_regs", "trace_event_raw_sys_enter"} <= moved, moved
    return FIRST_8.sub(lambda m: m[1] + m[3] + m[2] + m[4], header)


def _build(tmp: Path, name: str, header: str) -> Path:
    (tmp / f"{name}.h").write_text(header)
    bpfbuild().build(tmp / name, vmlinux=str(tmp / f"{name}.h"), log=lambda _: None)
    return tmp / name


def _ringscope(objects: Path, home: Path) -> Venv:
    """This checkout's ringscope, loading the objects in `objects`."""
    home.mkdir()
    return Venv(Path(sys.prefix), home, {"RINGSCOPE_BPF_DIR": str(objects)})


@pytest.fixture(scope="module")
def pinned() -> str:
    mod = bpfbuild()
    return str(mod.pinned_header(mod.target().bpf_arch).read_text())


def test_shifted_structs_still_give_the_right_fields(pinned: str, tmp_path: Path) -> None:
    venv = _ringscope(_build(tmp_path, "shifted", shifted(pinned)), tmp_path / "home")
    events = [str(e["name"]) for e in venv.stream_events()] + [workload.TRACEPOINT, workload.UPROBE]
    rows, facts = venv.trace_workload(events)
    assert workload.missing(rows, facts, events) == []

    profile, spin = venv.home / "spin.profile", venv.home / "spin"
    (venv.home / "spin.c").write_text(SPIN)
    subprocess.run(["gcc", "-O1", "-o", str(spin), str(venv.home / "spin.c")], check=True)
    venv.ringscope("record", "-F", "499", "-o", str(profile), "--", str(spin))
    report = venv.ringscope("report", "-i", str(profile)).stdout
    shares = re.findall(r"^ +(\d+\.\d+)% +\S+ +\S+ +\[[.k]\] (\S+)", report, re.M)
    assert sum(float(p) for p, sym in shares if sym != "[unknown]") > 50, report


def test_without_relocation_the_shift_shows(pinned: str, tmp_path: Path) -> None:
    """file.bpf.o reads its tracepoint record directly (ctx->args[1]):
    unrelocated, it reads the field 8 bytes before. (The other objects
    stay relocated: some unrelocated reads the verifier refuses outright.)"""
    objects = _build(tmp_path, "shifted", shifted(pinned))
    broken = _build(tmp_path, "unrelocated", "#define BPF_NO_PRESERVE_ACCESS_INDEX\n" + shifted(pinned))
    shutil.copy2(broken / "file.bpf.o", objects / "file.bpf.o")
    rows, facts = _ringscope(objects, tmp_path / "home").trace_workload(["open"])
    assert [r for r in rows if r["type"] == "open"], "the open program ran"
    assert workload.missing(rows, facts, ["open"]) == ["open"]
