"""Vendor the dashboard's JavaScript libraries from the npm registry.

    python3 tools/vendor_js.py        (make vendor)

Fetches each pinned package with `npm pack` (the registry's own tarball,
checked by npm against its published integrity), copies the files the
dashboard serves and the package's LICENSE into
src/ringscope/server/static/vendor/<name>/, and writes manifest.json with
the version, tarball, integrity and a sha256 per file, which
tests/unit/test_vendor.py checks. Nothing is fetched at run time: the
daemon serves these files itself (no CDN)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "src/ringscope/server/static/vendor"


@dataclass(frozen=True)
class Package:
    """A pinned npm package and the files of it the dashboard serves: a
    directory copied whole (minus `exclude` patterns) or single files; its
    LICENSE always."""

    version: str
    license: str
    dir: str | None = None
    exclude: tuple[str, ...] = ()
    files: tuple[str, ...] = ()


PACKAGES = {
    "uplot": Package("1.6.32", "MIT", files=("dist/uPlot.iife.min.js", "dist/uPlot.min.css")),
    # Without the landing page's example profile: the dashboard never shows it.
    "speedscope": Package(
        "1.25.0", "MIT", dir="dist/release", exclude=("perf-vertx-stacks-01-collapsed-all-*.txt",)
    ),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pack(name: str, version: str, tmp: Path) -> tuple[Path, dict[str, str]]:
    out = subprocess.run(["npm", "pack", "--json", f"{name}@{version}"], cwd=tmp, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    (info,) = json.loads(out)
    return tmp / info["filename"], {"tarball": f"https://registry.npmjs.org/{name}/-/{info['filename']}",
                                    "integrity": info["integrity"]}  # fmt: skip


def vendor(name: str, pkg: Package, tmp: Path) -> dict[str, object]:
    tgz, meta = pack(name, pkg.version, tmp)
    src = tmp / name
    with tarfile.open(tgz) as tar:
        tar.extractall(src, filter="data")
    root = src / "package"
    dest = VENDOR / name
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    if pkg.dir is not None:
        for f in sorted((root / pkg.dir).rglob("*")):
            if f.is_file() and not any(f.match(pattern) for pattern in pkg.exclude):
                (dest / f.relative_to(root / pkg.dir)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dest / f.relative_to(root / pkg.dir))
    for rel in pkg.files:
        shutil.copy2(root / rel, dest / Path(rel).name)
    shutil.copy2(root / "LICENSE", dest / "LICENSE")
    files = {str(f.relative_to(dest)): sha256(f) for f in sorted(dest.rglob("*")) if f.is_file()}
    return {"version": pkg.version, "license": pkg.license, **meta, "files": files}


def main() -> int:
    manifest = {}
    with tempfile.TemporaryDirectory() as d:
        for name, pkg in PACKAGES.items():
            manifest[name] = vendor(name, pkg, Path(d))
            print(f"vendored {name}@{pkg.version}")
    (VENDOR / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
