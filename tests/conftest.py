"""Shared test policy.

- Every test fails if it leaks a file descriptor (kernel objects are fds).
- Tests marked `kernel` need root and the real kernel. Under CI=true a
  missing prerequisite this machine should have is a failure, not a skip;
  a feature the kernel truly lacks is skipped with the probe's reason.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator

import pytest

IN_CI = os.environ.get("CI") == "true"


def _fds() -> dict[int, str]:
    out = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            out[int(name)] = os.readlink(f"/proc/self/fd/{name}")
    return out


@pytest.fixture(autouse=True)
def no_fd_leaks() -> Iterator[None]:
    before = _fds()
    yield
    gc.collect()
    leaked = {fd: target for fd, target in _fds().items() if fd not in before}
    assert not leaked, f"test leaked file descriptors: {leaked}"


def need(condition: bool, reason: str) -> None:
    """Skip when a prerequisite is missing locally; fail under CI=true."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"prerequisite missing in CI: {reason}")
    pytest.skip(reason)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.fspath)
        for tier in ("kernel", "server", "browser", "replay", "fleet"):
            if f"/tests/{tier}/" in path:
                item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture
def root() -> None:
    need(os.geteuid() == 0, "needs root")
