"""The artefacts are built and installed once per session: a wheel and an
sdist from a clean copy of the checkout, each in a venv of its own. That
is the slow part (about a minute with pip's cache warm)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import need
from tests.packaging.artefacts import ROOT, Venv, build_sdist, build_wheel, clean_copy


@dataclass(frozen=True)
class Dist:
    wheel: Path
    sdist: Path


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    need(shutil.which("git") is not None and (ROOT / ".git").exists(), "needs a git checkout to copy")
    base = tmp_path_factory.mktemp("dist")
    src = clean_copy(base / "src")
    # The sdist first: the wheel's build leaves build/ and egg-info in src.
    sdist = build_sdist(src, base / "out")
    return Dist(build_wheel(src, base / "out"), sdist)


@pytest.fixture(scope="session")
def wheel_venv(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return Venv.install(tmp_path_factory.mktemp("wheel") / "venv", dist.wheel)


@pytest.fixture(scope="session")
def sdist_venv(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """Installed from the sdist: pip builds the wheel itself (clang here)."""
    return Venv.install(tmp_path_factory.mktemp("sdist") / "venv", dist.sdist)
