"""In-kernel filters: other processes stay out; a followed command's
children are in; filters can change while events flow."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from ringscope.filters import Filter
from ringscope.session import Session
from tests.kernel.collect import collect, of_type

ME = os.getpid()


def _open_in_child(path: Path) -> None:
    subprocess.run([sys.executable, "-c", f"open({str(path)!r}, 'w').close()"], check=True)


def test_pid_filter_keeps_other_processes_out(tmp_path: Path) -> None:
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    with Session(["open"], filter=Filter(pid=ME)) as s:
        _open_in_child(theirs)
        open(mine, "w").close()
        rows = collect(s, lambda rows: any(r["path"] == str(mine) for r in rows))
    assert {r["pid"] for r in rows} == {ME}
    assert str(theirs) not in {r["path"] for r in rows}


def test_comm_and_uid_filters(tmp_path: Path) -> None:
    comm = f"rs{uuid.uuid4().hex[:10]}"
    script = tmp_path / comm
    script.write_text(f"#!/bin/sh\nexec cat {tmp_path}/x 2>/dev/null\n")
    script.chmod(0o755)
    with Session(["exec", "open"], filter=Filter(comm=comm, uid=0)) as s:
        subprocess.run([str(script)], check=False)
        subprocess.run(["/bin/cat", "/dev/null"], check=True)
        rows = collect(s, lambda rows: bool(of_type(rows, "exec")))
    assert rows and {r["comm"] for r in rows} == {comm}
    with Session(["open"], filter=Filter(pid=ME, uid=12345)) as s:
        open(tmp_path / "y", "w").close()
        assert collect(s, lambda rows: False, timeout=0.3) == []


def test_cgroup_filter(tmp_path: Path) -> None:
    cg = Path("/proc/self/cgroup").read_text().strip().split("::", 1)[-1]
    cg_id = os.stat(f"/sys/fs/cgroup{cg}").st_ino
    with Session(["open"], filter=Filter(pid=ME, cgroup_id=cg_id)) as s:
        open(tmp_path / "in", "w").close()
        rows = collect(s, lambda rows: any(r["path"].endswith("/in") for r in rows))
    assert rows and {r["cgroup_id"] for r in rows} == {cg_id}
    with Session(["open"], filter=Filter(pid=ME, cgroup_id=cg_id + 999_999)) as s:
        open(tmp_path / "out", "w").close()
        assert collect(s, lambda rows: False, timeout=0.3) == []


def test_follow_sees_grandchildren(tmp_path: Path) -> None:
    target = tmp_path / "deep"
    with Session(["open", "exec"], filter=Filter(pid=ME, follow=True)) as s:
        s.follow(ME)
        subprocess.run(["/bin/sh", "-c", f"/bin/sh -c 'echo > {target}'"], check=True)
        rows = collect(s, lambda rows: any(r.get("path") == str(target) for r in rows))
    opener = next(r for r in rows if r.get("path") == str(target))
    assert opener["pid"] != ME
    assert len({r["pid"] for r in of_type(rows, "exec")}) == 2


def test_filter_changes_while_events_flow(tmp_path: Path) -> None:
    with Session(["open"], filter=Filter(pid=ME)) as s:
        open(tmp_path / "a", "w").close()
        s.set_filter(Filter(pid=1))  # init: we drop out of the stream
        open(tmp_path / "b", "w").close()
        s.set_filter(Filter(pid=ME))
        open(tmp_path / "c", "w").close()
        rows = collect(s, lambda rows: any(r["path"].endswith("/c") for r in rows))
    names = [Path(r["path"]).name for r in rows if r["pid"] == ME]
    assert "a" in names and "c" in names and "b" not in names


def test_comm_filter_with_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    name = b"rs\xff\xfecomm"
    exe = tmp_path.joinpath(os.fsdecode(name))
    exe.write_text(f"#!/bin/sh\nexec cat {tmp_path}/none 2>/dev/null\n")
    exe.chmod(0o755)
    with Session(["exec"], filter=Filter(comm=os.fsdecode(name))) as s:
        subprocess.run([os.fsencode(exe)], check=False)
        rows = collect(s, lambda rows: bool(rows))
    assert rows and rows[0]["filename"].endswith("comm")
