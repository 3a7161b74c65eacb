"""`make bench`: every section in one run. A section is a module
bench/bench_<name>.py with `run(report: Report) -> None`."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

from bench.report import Report


def main(argv: list[str]) -> int:
    wanted = set(argv)
    report = Report()
    here = Path(__file__).parent
    for mod in sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_")):
        section = mod.removeprefix("bench_")
        if wanted and section not in wanted:
            continue
        print(f"== {section}", flush=True)
        importlib.import_module(f"bench.{mod}").run(report)
    print(f"wrote {report.write()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
