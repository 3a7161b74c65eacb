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
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "src/ringscope/server/static/vendor"

# name -> version, license, and which files of the package to serve: a
# directory copied whole (minus `exclude`) or single files, plus LICENSE.
PACKAGES: dict[str, dict[str, object]] = {
    "uplot": {
        "version": "1.6.32",
        "license": "MIT",
        "files": ["dist/uPlot.iife.min.js", "dist/uPlot.min.css"],
    },
    "speedscope": {
        "version": "1.25.0",
        "license": "MIT",
        "dir": "dist/release",
        # The landing page's example profile: never shown in the dashboard.
        "exclude": ["perf-vertx-stacks-01-collapsed-all-*.txt"],
    },
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pack(name: str, version: str, tmp: Path) -> tuple[Path, dict[str, str]]:
    out = subprocess.run(["npm", "pack", "--json", f"{name}@{version}"], cwd=tmp, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    (info,) = json.loads(out)
    return tmp / info["filename"], {"tarball": f"https://registry.npmjs.org/{name}/-/{info['filename']}",
                                    "integrity": info["integrity"]}  # fmt: skip


def vendor(name: str, spec: dict[str, object], tmp: Path) -> dict[str, object]:
    tgz, meta = pack(name, str(spec["version"]), tmp)
    src = tmp / name
    with tarfile.open(tgz) as tar:
        tar.extractall(src, filter="data")
    pkg = src / "package"
    dest = VENDOR / name
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    if "dir" in spec:
        root = pkg / str(spec["dir"])
        exclude = [str(x) for x in spec.get("exclude", [])]  # type: ignore[attr-defined]
        for f in sorted(root.rglob("*")):
            if f.is_file() and not any(f.match(pattern) for pattern in exclude):
                (dest / f.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dest / f.relative_to(root))
    for rel in spec.get("files", []):  # type: ignore[attr-defined]
        shutil.copy2(pkg / rel, dest / Path(rel).name)
    shutil.copy2(pkg / "LICENSE", dest / "LICENSE")
    files = {str(f.relative_to(dest)): sha256(f) for f in sorted(dest.rglob("*")) if f.is_file()}
    return {"version": spec["version"], "license": spec["license"], **meta, "files": files}


def main() -> int:
    manifest = {}
    with tempfile.TemporaryDirectory() as d:
        for name, spec in PACKAGES.items():
            manifest[name] = vendor(name, spec, Path(d))
            print(f"vendored {name}@{spec['version']} ({len(manifest[name]['files'])} files)")  # type: ignore[arg-type]
    (VENDOR / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
