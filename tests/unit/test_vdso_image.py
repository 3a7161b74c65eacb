"""The vDSO image read from this process's memory (symbols/vdso.py): a
complete ELF file with a build id, symbols and CFI, saved by build id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ringscope.symbols import vdso
from ringscope.symbols.elf import ElfSymbols, build_id
from ringscope.symbols.resolver import DsoSymbols
from ringscope.symbols.unwind_table import unwind_table
from tests.conftest import need


@pytest.fixture
def image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[vdso.VdsoImage]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    vdso.own_vdso.cache_clear()
    own = vdso.own_vdso()
    need(own is not None, "a vDSO in this process (the kernel maps one unless booted with vdso=0)")
    assert own is not None
    yield own
    vdso.own_vdso.cache_clear()  # the next caller saves into its own cache


def test_image_is_saved_by_its_build_id(image: vdso.VdsoImage, tmp_path: Path) -> None:
    assert image.path.is_relative_to(tmp_path) and image.path.exists()
    assert build_id(image.path) == image.build_id
    assert vdso.saved_vdso(image.build_id) == image.path
    assert vdso.saved_vdso("00" * 20) is None and vdso.saved_vdso(None) is None
    assert vdso.mapped_vdso(image.size) is image and vdso.mapped_vdso(image.size + 4096) is None


def test_image_has_symbols_and_cfi(image: vdso.VdsoImage) -> None:
    syms = ElfSymbols.load(str(image.path))
    assert syms is not None
    found = [
        a for a in range(0, image.size, 16) if syms.lookup(a) in ("__vdso_clock_gettime", "clock_gettime")
    ]
    assert found
    table = unwind_table(str(image.path), image.build_id)
    assert table is not None and table.find(found[0]) is not None
    named = DsoSymbols(vdso.VDSO, image.build_id).symbol(found[0], ret=False)[0]
    assert named in ("__vdso_clock_gettime", "clock_gettime")
    assert DsoSymbols(vdso.VDSO, "00" * 20).symbol(found[0], ret=False) == (f"0x{found[0]:x}", -1)
