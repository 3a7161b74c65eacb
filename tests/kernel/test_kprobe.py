"""kprobes/kretprobes and fentry/fexit: feature-probed. Where the kernel lacks
them (this VM: CONFIG_KPROBES off, fentry load EPERM) the spec is refused
with the probe's reason; where it has them, they trace our own open()."""

from __future__ import annotations

import os
import time

import pytest

from ringscope import features
from ringscope.errors import BadInput, NotSupported
from ringscope.events.spec import Row
from ringscope.filters import Filter
from ringscope.session import Session

FUNC = "do_sys_openat2"


def _needs(feature: features.Feature) -> None:
    if not feature.available:
        pytest.skip(f"not supported by this kernel: {feature.reason}")


@pytest.mark.parametrize("spec", [f"kprobe:{FUNC}", f"kretprobe:{FUNC}"])
def test_kprobe_without_config_kprobes_is_a_clear_not_supported(spec: str) -> None:
    feat = features.probe().kprobes
    if feat.available:
        pytest.skip("this kernel has kprobes")
    with pytest.raises(NotSupported) as info:
        Session([spec])
    assert str(info.value) == "not supported by this kernel: CONFIG_KPROBES is off"


@pytest.mark.parametrize("spec", [f"fentry:{FUNC}", f"fexit:{FUNC}"])
def test_fentry_without_trampolines_is_a_clear_not_supported(spec: str) -> None:
    feat = features.probe().fentry
    if feat.available:
        pytest.skip("this kernel has fentry")
    with pytest.raises(NotSupported, match=r"^not supported by this kernel: "):
        Session([spec])


def _trace_open(spec: str) -> list[Row]:
    rows: list[Row] = []
    with Session([spec], filter=Filter(pid=os.getpid())) as s:
        fd = os.open("/dev/null", os.O_RDONLY)
        os.close(fd)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not rows:
            rows.extend(r for r in s.events(duration=0.05) if r["type"] != "lost")
    return rows


@pytest.mark.parametrize("family", ["kprobe", "kretprobe"])
def test_kprobe_traces_open(family: str) -> None:
    _needs(features.probe().kprobes)
    rows = _trace_open(f"{family}:{FUNC}")
    assert rows[0]["type"] == f"{family}:{FUNC}"
    assert rows[0]["args"][0] & 0xFFFFFFFF == 0xFFFFFF9C  # AT_FDCWD
    if family == "kretprobe":
        assert rows[0]["ret"] >= 0 and rows[0]["latency_ns"] > 0


@pytest.mark.parametrize("family", ["fentry", "fexit"])
def test_fentry_traces_open(family: str) -> None:
    _needs(features.probe().fentry)
    rows = _trace_open(f"{family}:{FUNC}")
    assert rows[0]["type"] == f"{family}:{FUNC}"
    assert rows[0]["args"][0] & 0xFFFFFFFF == 0xFFFFFF9C


def test_bad_kernel_function_name() -> None:
    feats = features.probe()
    if not feats.kprobes.available:
        pytest.skip(f"not supported by this kernel: {feats.kprobes.reason}")
    with pytest.raises(BadInput, match="no traceable kernel function"):
        Session(["kprobe:no_such_function_xyz"])
