"""`ringscope trace` output, run as a user would: -o FILE keeps the traced
command's own output apart, text lines cannot be split or turned into
terminal escapes by a file name, NDJSON parses, and a run that lost events
says so and suggests a ring size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ringscope.transport.sizing import MAX_RING_SIZE

RINGSCOPE = [sys.executable, "-m", "ringscope"]
OPEN_ONE = "import sys; open(sys.argv[1], 'w').close()"


def _trace(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RINGSCOPE, "trace", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_output_file_keeps_the_commands_own_output_apart(tmp_path: Path) -> None:
    out = tmp_path / "events.ndjson"
    target = tmp_path / "made-by-the-command"
    p = _trace("-e", "open", "--format", "json", "-o", str(out), "--",
               sys.executable, "-c", f"print('hello from the command'); {OPEN_ONE}", str(target))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert p.stdout == "hello from the command\n"
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(r["type"] == "open" for r in rows)
    assert any(r["path"] == str(target) for r in rows)
    assert f"ringscope: {len(rows)} events, lost 0 in the kernel, 0 in the daemon" in p.stderr


def test_text_lines_escape_what_a_file_name_could_do(tmp_path: Path) -> None:
    name = tmp_path / "new\nline \x1b[31mred\u202eevil"
    p = _trace("-e", "open", "--", sys.executable, "-c", OPEN_ONE, str(name))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["TIME(s)", "CPU", "COMM", "PID", "TID", "EVENT", "DETAILS"]
    mine = [ln for ln in lines if "red" in ln]
    assert len(mine) == 1  # one event, one line: the newline in the name is escaped
    assert "\x1b" not in p.stdout and "\u202e" not in p.stdout
    assert r"\n" in mine[0] and r"\u001b[31mred\u202eevil" in mine[0]
    assert 'path="' in mine[0]  # quoted: it holds a space


def test_output_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    for target, why in ((tmp_path / "no" / "dir" / "x", "No such file or directory"), (tmp_path, "Is a directory"),
                        (Path("/dev/full"), "No space left on device")):  # fmt: skip
        p = _trace("-e", "open", "-o", str(target), "--", "/bin/cat", "/etc/hostname")
        assert p.returncode == 1, (target, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert (
            len(lines) == 1 and lines[0].startswith("ringscope: error: cannot write") and why in lines[0]
        ), p.stderr


def test_a_run_that_lost_events_suggests_a_ring_size(tmp_path: Path) -> None:
    # 20,000 opens into a 4 KiB ring (about a dozen open records): most are lost.
    loop = (
        "import os\nfor _ in range(20000):\n    try: os.open('/nonexistent/x', 0)\n    except OSError: pass"
    )
    p = _trace("-e", "open", "--format", "json", "--ring-size", "4K", "-o", str(tmp_path / "o"), "--",
               sys.executable, "-c", loop)  # fmt: skip
    assert p.returncode == 0, p.stderr
    summary = p.stderr.strip().splitlines()[-1]
    shown, kernel = (int(w) for w in summary.split()[1:5:3])
    assert kernel > 0 and shown + kernel >= 20000
    assert "the ring filled: try --ring-size " in summary
    size = summary.rsplit(" ", 1)[1]
    assert (
        size.endswith(("K", "M", "G"))
        and int(size[:-1]) << {"K": 10, "M": 20, "G": 30}[size[-1]] <= MAX_RING_SIZE
    )
    # The hint holds the whole burst (delivered + lost, at the bytes each
    # took), so following it loses nothing, even with a reader that stalls.
    p = _trace("-e", "open", "--format", "json", "--ring-size", size, "-o", str(tmp_path / "o"), "--",
               sys.executable, "-c", loop)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert " lost 0 in the kernel" in p.stderr.strip().splitlines()[-1], p.stderr
