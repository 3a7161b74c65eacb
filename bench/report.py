"""Benchmark figures: each with its baseline measured in the same run and
the ratio between them. Printed as a table and written to results/latest.json."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


@dataclass
class Figure:
    section: str
    name: str
    value: float
    unit: str
    baseline_name: str | None = None
    baseline: float | None = None
    higher_is_better: bool = True
    target: str = ""
    notes: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        assert self.baseline is not None
        return self.value / self.baseline


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)

    def add(self, fig: Figure) -> Figure:
        self.figures.append(fig)
        ratio = f"{fig.ratio:.2f}x" if fig.ratio is not None else "-"
        base = f"{fig.baseline:,.1f} ({fig.baseline_name})" if fig.baseline is not None else "-"
        print(f"  {fig.name:<48} {fig.value:>14,.1f} {fig.unit:<10} baseline {base:<36} ratio {ratio:>7}"
              f"  {fig.target}", flush=True)  # fmt: skip
        return fig

    def write(self) -> Path:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / "latest.json"
        doc = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"kernel": platform.release(), "cpus": __import__("os").cpu_count()},
            "figures": [{**asdict(f), "ratio": f.ratio} for f in self.figures],
        }
        out.write_text(json.dumps(doc, indent=2) + "\n")
        return out
