"""The README's screenshots of the dashboard (docs/dashboard-*.png), taken
after a few minutes of real traffic: `ringscope serve` traces this machine
while a shell loop runs commands, one client stalls (its drops show), and
headless Chromium looks at the page. The flame-graph picture is a profile
of a small C program recorded with `ringscope record -g` and written with
`ringscope report --format speedscope`, loaded into the panel.

    sudo .venv/bin/python tools/dashboard_screenshots.py [--minutes 3]

Needs root (it traces), Debian's chromium and gcc."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.async_api import Page, async_playwright

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RINGSCOPE = [sys.executable, "-m", "ringscope"]
ARGS = ["--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
LOAD = "while :; do ls /usr/bin >/dev/null; cat /etc/hostname /etc/os-release >/dev/null; sleep 0.2; done"
BURST = "while :; do sleep 20; find /usr/share/doc -name '*.gz' >/dev/null 2>&1; done"
HOT_C = r"""
#include <stdlib.h>
#include <time.h>
__attribute__((noinline)) double hot_spin(double t) {
    struct timespec a, b; double x = 0; clock_gettime(CLOCK_MONOTONIC, &a);
    do { for (int i = 0; i < 1000; i++) x += i * 0.5; clock_gettime(CLOCK_MONOTONIC, &b); }
    while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < t);
    return x;
}
__attribute__((noinline)) double cold(void) { double x = 0; for (int i = 0; i < 2000000; i++) x += i; return x; }
int main(int argc, char **argv) { double t = argc > 1 ? atof(argv[1]) : 1; return (int)(hot_spin(t) + cold()) & 1; }
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def profile(tmp: Path) -> str:
    (tmp / "hot.c").write_text(HOT_C)
    subprocess.run(
        ["gcc", "-O1", "-g", "-fno-omit-frame-pointer", "-o", tmp / "hot", tmp / "hot.c"], check=True
    )
    subprocess.run([*RINGSCOPE, "record", "-F", "999", "-g", "-o", tmp / "hot.profile", "--", tmp / "hot", "1"],
                   check=True)  # fmt: skip
    out = tmp / "hot.speedscope.json"
    subprocess.run(
        [*RINGSCOPE, "report", "-i", tmp / "hot.profile", "--format", "speedscope", "-o", out], check=True
    )
    return out.read_text()


async def shoot(url: str, minutes: float, speedscope: str) -> None:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page: Page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(url + "/?types=exec,open")
        print(f"traffic for {minutes} min ...", flush=True)
        await asyncio.sleep(minutes * 60)
        await page.select_option("#range", "300")
        await page.screenshot(path=str(DOCS / "dashboard-wide.png"), full_page=True)
        await page.fill("#search", "hostname")
        await page.locator("#events tbody tr.event").first.click()
        await page.click("#pause")
        await page.locator("#events-panel").screenshot(path=str(DOCS / "dashboard-event-detail.png"))
        await page.evaluate("doc => window.ringscope.showProfile(doc, './hot 1 (ringscope record -g)')",
                            json.loads(speedscope))  # fmt: skip
        await asyncio.sleep(3)
        await page.locator("#profile").screenshot(path=str(DOCS / "dashboard-flamegraph.png"))
        narrow = await browser.new_page(viewport={"width": 360, "height": 780})
        await narrow.goto(url + "/?types=exec,open")
        await asyncio.sleep(5)
        await narrow.screenshot(path=str(DOCS / "dashboard-narrow.png"), full_page=True)
        await browser.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    args = ap.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        speedscope = profile(Path(d))
        serve = subprocess.Popen([*RINGSCOPE, "serve", "-e", "exec,exit,open,connect", "--port", str(port)])
        load = [subprocess.Popen(["sh", "-c", cmd]) for cmd in (LOAD, BURST)]
        stalled = socket.socket()
        try:
            time.sleep(3)
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.connect(("127.0.0.1", port))
            stalled.sendall(b"GET /events.ndjson?types=open HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            asyncio.run(shoot(f"http://127.0.0.1:{port}", args.minutes, speedscope))
        finally:
            stalled.close()
            for p in (*load, serve):
                p.terminate()
                p.wait(10)
    print("wrote", *sorted(str(p.relative_to(ROOT)) for p in DOCS.glob("dashboard-*.png")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
