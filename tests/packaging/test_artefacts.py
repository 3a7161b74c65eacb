"""What the wheel and the sdist hold: every BPF object, built for this
architecture, and nothing from tests/ or bench/."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import pytest

from ringscope import __version__
from tests.packaging.artefacts import ROOT, bpfbuild
from tests.packaging.conftest import Dist

pytestmark = pytest.mark.packaging

EM_BPF = 247


def _stems() -> set[str]:
    return {p.name.removesuffix(".bpf.c") for p in (ROOT / "bpf").glob("*.bpf.c")}


def test_wheel_is_tagged_for_the_objects_architecture(dist: Dist) -> None:
    platform = bpfbuild().target().wheel_platform
    assert dist.wheel.name == f"ringscope-{__version__}-py3-none-{platform}.whl"
    with zipfile.ZipFile(dist.wheel) as z:
        meta = z.read(f"ringscope-{__version__}.dist-info/WHEEL").decode()
    assert f"Tag: py3-none-{platform}" in meta.splitlines()


def test_wheel_holds_every_object_and_nothing_else(dist: Dist) -> None:
    with zipfile.ZipFile(dist.wheel) as z:
        names = z.namelist()
        objects = {n for n in names if n.startswith("ringscope/_bpf/") and n.endswith(".bpf.o")}
        elf_machines = {int.from_bytes(z.read(n)[18:20], "little") for n in objects}
    assert {Path(n).name.removesuffix(".bpf.o") for n in objects} == _stems()
    assert elf_machines == {EM_BPF}
    assert "ringscope/_bpf/build.json" in names
    assert {n.split("/")[0] for n in names} == {"ringscope", f"ringscope-{__version__}.dist-info"}
    assert not [n for n in names if "tests/" in n or "bench/" in n]


def test_sdist_holds_what_builds_the_objects_not_objects(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    need = {f"bpf/{s}.bpf.c" for s in _stems()} | {
        "setup.py",
        "bpf/bpfbuild.py",
        "bpf/include/vmlinux.h",
        f"bpf/vmlinux/{bpfbuild().target().bpf_arch}/vmlinux.h",
        "src/ringscope/__init__.py",
    }
    assert need <= names
    assert not [n for n in names if n.endswith(".bpf.o") or n.startswith(("tests/", "bench/"))]
