"""Building and installing ringscope the way a user does: a wheel and an
sdist from a clean copy of the checkout, each installed into a new venv
that is then run away from the sources, with no compiler in PATH."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from tests.packaging import workload

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 600  # pip may fetch the dependencies from PyPI
RUN_TIMEOUT = 120
# What a machine without a BPF toolchain lacks: compilers, linkers, bpftool.
TOOLCHAIN = re.compile(r"^(clang|llc|llvm-|ld\.lld|lld|bpftool|gcc|g\+\+|cc$|c\+\+$|cpp$)")


def bpfbuild() -> ModuleType:
    """bpf/bpfbuild.py, the build rule (a script, not a package module)."""
    if "bpfbuild" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bpfbuild", ROOT / "bpf" / "bpfbuild.py")
        assert spec is not None and spec.loader is not None
        sys.modules["bpfbuild"] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["bpfbuild"]


def run(
    cmd: Sequence[str | Path],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = RUN_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run to completion; on failure, fail with the command's output."""
    args = [str(c) for c in cmd]
    proc = subprocess.run(
        args, cwd=cwd, env=env, timeout=timeout, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def clean_copy(dest: Path) -> Path:
    """What a fresh clone of this working tree holds: the files git tracks
    (as they are now) and new ones it does not ignore; nothing built."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        src = ROOT / name
        if src.is_file():  # tracked but deleted in the working tree: gone
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def build_wheel(src: Path, out: Path) -> Path:
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, src], timeout=INSTALL_TIMEOUT)
    (wheel,) = out.glob("ringscope-*.whl")
    return wheel


def build_sdist(src: Path, out: Path) -> Path:
    run([sys.executable, "-m", "build", "--sdist", "-o", out, src], timeout=INSTALL_TIMEOUT)
    (sdist,) = out.glob("ringscope-*.tar.gz")
    return sdist


def path_without_toolchain(bin_dir: Path) -> str:
    """A PATH with every command of this one but the toolchain and those in
    the checkout (its .venv): symlinks in `bin_dir`, made once. ringscope
    runs system tools (ldconfig), as it would on a production host."""
    if not bin_dir.exists():
        bin_dir.mkdir(parents=True)
        for d in filter(None, os.environ.get("PATH", "").split(os.pathsep)):
            if not Path(d).is_dir() or Path(d).resolve().is_relative_to(ROOT):
                continue
            for exe in Path(d).iterdir():
                link = bin_dir / exe.name
                if not TOOLCHAIN.match(exe.name) and not link.exists() and os.access(exe, os.X_OK):
                    link.symlink_to(exe)
    return str(bin_dir)


@dataclass(frozen=True)
class Venv:
    """A venv with ringscope installed, run from `home` (not the checkout)
    with the venv's bin/ first in PATH and no compiler or bpftool after it."""

    path: Path
    home: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def install(cls, path: Path, what: Path) -> Venv:
        run([sys.executable, "-m", "venv", path], timeout=INSTALL_TIMEOUT)
        run([path / "bin" / "python", "-m", "pip", "install", "-q", what], timeout=INSTALL_TIMEOUT)
        home = path.parent / f"{path.name}-home"
        home.mkdir()
        return cls(path, home)

    @property
    def system_path(self) -> str:
        return path_without_toolchain(self.home / "system-bin")

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def env(self) -> dict[str, str]:
        drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "RINGSCOPE_BPF_DIR", "CLANG", "BPFTOOL")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        path = f"{self.path / 'bin'}{os.pathsep}{self.system_path}"
        return {**env, "PATH": path, "PYTHONNOUSERSITE": "1", **self.extra_env}

    def popen(self, *args: str) -> subprocess.Popen[str]:
        cmd = [str(self.path / "bin" / "ringscope"), *args]
        return subprocess.Popen(cmd, env=self.env(), cwd=self.home, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip

    def ringscope(self, *args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return run([self.path / "bin" / "ringscope", *args], env=self.env(), cwd=self.home, timeout=timeout)

    def stream_events(self) -> list[dict[str, object]]:
        rows = [json.loads(ln) for ln in self.ringscope("list", "--json").stdout.splitlines()]
        return [r for r in rows if r["kind"] == "stream"]

    def trace_workload(self, events: list[str]) -> tuple[list[workload.Row], workload.Facts]:
        """Trace workload.py (copied next to home, run by this venv's
        Python) with `events`; its rows, and what it says it did."""
        script, facts = self.home / "workload.py", self.home / "facts.json"
        shutil.copy2(workload.__file__, script)
        out = self.ringscope("trace", "-e", ",".join(events), "--format", "json",
                             "--", str(self.python), str(script), str(facts)).stdout  # fmt: skip
        return [json.loads(ln) for ln in out.splitlines()], json.loads(facts.read_text())
