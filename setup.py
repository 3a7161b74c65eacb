"""The Python build's one addition to setuptools: the BPF objects.

Everything else is declared in pyproject.toml. `build_py` compiles
bpf/*.bpf.c into the package through the same rule `make bpf` uses
(bpf/bpfbuild.py): into build/lib for a wheel (`pip wheel .`,
`pip install .`, `python -m build`, an sdist's build), into src/ for an
editable install. The wheel is tagged for the architecture the objects
were built for: they are per-architecture (pt_regs), the Python is not.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py
from setuptools.errors import ExecError

HERE = Path(__file__).resolve().parent


def _load_bpfbuild() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bpfbuild", HERE / "bpf" / "bpfbuild.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


bpfbuild = _load_bpfbuild()


class BuildPyWithBpf(build_py):
    """build_py, then the BPF objects into the package's _bpf/."""

    def run(self) -> None:
        super().run()
        package = (
            HERE / self.get_package_dir("ringscope")
            if self.editable_mode
            else Path(self.build_lib) / "ringscope"
        )
        try:
            bpfbuild.build(package / "_bpf", log=print)
        except bpfbuild.BuildError as e:
            raise ExecError(f"cannot build ringscope's BPF objects: {e}") from None


class PlatformWheel(bdist_wheel):
    """py3-none-<platform>: any Python 3, this architecture's objects."""

    def get_tag(self) -> tuple[str, str, str]:
        return "py3", "none", bpfbuild.target().wheel_platform


setup(cmdclass={"build_py": BuildPyWithBpf, "bdist_wheel": PlatformWheel})
