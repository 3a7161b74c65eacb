from __future__ import annotations

import pytest

from tests.conftest import need


@pytest.fixture(autouse=True)
def _kernel_root() -> None:
    import os

    need(os.geteuid() == 0, "kernel tests need root")
