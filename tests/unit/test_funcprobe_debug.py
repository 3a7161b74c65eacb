"""Uprobe function lookup in a stripped binary's debug file (funcprobe.py):
the debug file is made with objcopy --only-keep-debug and placed under a
build-id tree of the test's own, as Debian's -dbgsym packages install it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ringscope.errors import BadInput
from ringscope.sources.funcprobe import functions, symbol_offset
from ringscope.symbols import elf
from tests.conftest import need

SRC = r"""
static __attribute__((noinline)) int hidden_helper(int x) { return x * 3 + 1; }
int main(int argc, char **argv) { (void)argv; return hidden_helper(argc); }
"""


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """(unstripped, stripped, debug root holding the stripped one's debug file)."""
    need(all(shutil.which(t) for t in ("gcc", "objcopy", "strip")), "gcc and binutils")
    (tmp_path / "p.c").write_text(SRC)
    full, stripped = tmp_path / "p", tmp_path / "p-stripped"
    subprocess.run(["gcc", "-O2", "-g", "-Wl,--build-id", "-o", full, tmp_path / "p.c"], check=True)
    subprocess.run(["strip", "-o", stripped, full], check=True)
    bid = elf.build_id(full)
    assert bid is not None and elf.build_id(stripped) == bid
    root = tmp_path / "debug"
    (root / bid[:2]).mkdir(parents=True)
    subprocess.run(["objcopy", "--only-keep-debug", full, root / bid[:2] / f"{bid[2:]}.debug"], check=True)
    monkeypatch.setattr(elf, "DEBUG_ROOT", root)
    return full, stripped, root


def test_static_function_found_in_the_debug_file(built: tuple[Path, Path, Path]) -> None:
    full, stripped, _ = built
    # The offset is the binary's: the debug file's segments have no file contents.
    assert symbol_offset(stripped, "hidden_helper") == symbol_offset(full, "hidden_helper")
    assert "hidden_helper" in functions(stripped)


def test_missing_everywhere_names_the_debug_file(built: tuple[Path, Path, Path]) -> None:
    _, stripped, root = built
    with pytest.raises(
        BadInput, match=re.escape(f"no function 'nosuch' in {stripped} (nor in its debug file {root}")
    ):
        symbol_offset(stripped, "nosuch")


def test_without_a_debug_file(built: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, stripped, root = built
    monkeypatch.setattr(elf, "DEBUG_ROOT", root / "elsewhere")
    with pytest.raises(
        BadInput, match=re.escape("stripped binary: no .symtab, not in .dynsym, no debug file")
    ):
        symbol_offset(stripped, "hidden_helper")
    assert "hidden_helper" not in functions(stripped)
