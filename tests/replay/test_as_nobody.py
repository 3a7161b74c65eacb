"""The replay tier again, as uid 65534 (nobody) with no capability: what a
capture needs is a file, not privilege. Run by root (CI); as any other
user the tier is already unprivileged and this test has nothing to add.

The interpreter may sit under a directory nobody cannot search (a pyenv
under /root): then, and only then, the run keeps CAP_DAC_READ_SEARCH (read
and search files) and nothing else, which says so in the test's output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import need

ROOT = Path(__file__).parent.parent.parent
NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"]
SEARCH_ONLY = ["--inh-caps=-all,+dac_read_search", "--ambient-caps=+dac_read_search",
               "--bounding-set=-all,+dac_read_search"]  # fmt: skip


def _setpriv(extra: list[str], argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["setpriv", *NOBODY, *extra, *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900, check=False)  # fmt: skip


def test_the_replay_tier_passes_as_nobody() -> None:
    if os.geteuid() != 0:
        pytest.skip("not root: this run of the tier is an unprivileged one already")
    need(shutil.which("setpriv") is not None, "setpriv (util-linux) runs the tier as nobody")
    base = tempfile.mkdtemp(prefix="ringscope-nobody-")
    try:
        os.chmod(base, 0o777)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": base, "PYTHONDONTWRITEBYTECODE": "1",
               "CI": os.environ.get("CI", "")}  # fmt: skip
        # The tier starts the CLI as a child: the interpreter must be reachable from a child too.
        nested = "import subprocess, sys, ringscope.capture; subprocess.run([sys.executable, '-c', ''], check=True)"
        probe = [sys.executable, "-c", nested]
        extra: list[str] = []
        if _setpriv([], probe, env).returncode != 0:
            extra = SEARCH_ONLY
            assert _setpriv(extra, probe, env).returncode == 0, "nobody cannot run this interpreter at all"
        check = "import os; from ringscope import caps; print(os.geteuid(), caps.missing(caps.CAP_BPF, caps.CAP_PERFMON))"
        who = _setpriv(extra, [sys.executable, "-c", check], env)
        assert who.stdout.split(maxsplit=1) == ["65534", "[39, 38]\n"], who
        tier = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={base}/t",
                "tests/replay", "--deselect", f"tests/replay/{Path(__file__).name}::{test_the_replay_tier_passes_as_nobody.__name__}"]  # fmt: skip
        p = _setpriv(extra, tier, env)
        mode = "with CAP_DAC_READ_SEARCH only" if extra else "with no capability"
        print(f"replay tier as uid 65534 {mode}: {p.stdout.strip().splitlines()[-1:]}")
        assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    finally:
        shutil.rmtree(base, ignore_errors=True)
