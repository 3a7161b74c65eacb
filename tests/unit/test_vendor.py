"""The dashboard's vendored libraries are what manifest.json says they are
(version, license, a sha256 per file), and the dashboard loads nothing
from outside the daemon."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import ringscope.server

STATIC = Path(ringscope.server.__file__).parent / "static"
VENDOR = STATIC / "vendor"


def test_vendored_files_match_the_manifest() -> None:
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    assert set(manifest) == {"uplot", "speedscope"}
    for name, pkg in manifest.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", pkg["version"]), name  # pinned, not a range
        assert pkg["tarball"] == f"https://registry.npmjs.org/{name}/-/{name}-{pkg['version']}.tgz"
        assert pkg["integrity"].startswith("sha512-") and pkg["license"] == "MIT"
        assert "LICENSE" in pkg["files"]
        on_disk = {str(p.relative_to(VENDOR / name)) for p in (VENDOR / name).rglob("*") if p.is_file()}
        assert on_disk == set(pkg["files"]), name
        for rel, digest in pkg["files"].items():
            assert hashlib.sha256((VENDOR / name / rel).read_bytes()).hexdigest() == digest, rel
        assert pkg["version"] in (VENDOR / "README.md").read_text()


def test_the_dashboard_loads_only_its_own_files() -> None:
    pages = [STATIC / "index.html", *sorted((STATIC / "js").glob("*.js")), STATIC / "style.css"]
    for page in pages:
        text = page.read_text()
        # src=, href=, url(), import ... from: every reference is local.
        refs = re.findall(r"""(?:src|href)=["']([^"']+)|url\(([^)]+)\)|from\s+["']([^"']+)""", text)
        for ref in ("".join(r) for r in refs):
            assert not re.match(r"(?i)(https?:)?//", ref), f"{page.name} loads {ref}"
