"""The fleet dashboard in headless Chromium: the hosts panel lists every
exporting host, with the events this page saw from each."""

from __future__ import annotations

import os

from playwright.async_api import Browser, expect

from tests.browser.test_dashboard import browser  # noqa: F401  (fixture)
from tests.conftest import need
from tests.fleet.conftest import Flood, Nats, Serve, host, nats, wait_settled, wait_until  # noqa: F401


async def test_the_hosts_panel_lists_hosts_with_their_counts(browser: Browser, nats: Nats) -> None:  # noqa: F811
    need(os.geteuid() == 0, "exporting hosts trace the kernel: need root")
    fleet = Serve("--from", nats.url)
    floods = {"north": Flood(700), "south": Flood(1300)}
    hosts = {name: host(nats.url, name, f.proc.pid) for name, f in floods.items()}
    try:
        for h in hosts.values():
            wait_until(lambda h=h: h.export_status()["connected"], what="export connected")
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(fleet.url + "/")
        await expect(page.locator("#conn")).to_have_text("connected", timeout=10000)
        wait_until(lambda: fleet.get("/api/status")["clients"] == 1, what="the page's stream")
        for f in floods.values():
            f.release()
            f.proc.wait(60)
        for name, h in hosts.items():
            produced = wait_settled(h)["produced"]
            row = page.locator(f'#hosts tr[data-host="{name}"]')
            await expect(row.locator("td").nth(0)).to_have_text(name, timeout=10000)
            await expect(row.locator("td").nth(1)).to_have_text(str(produced), timeout=10000)
            await expect(row.locator("td").nth(6)).to_have_text(str(produced), timeout=10000)
        assert errors == []
        await page.close()
    finally:
        for h in hosts.values():
            h.stop()
        fleet.stop()
        for f in floods.values():
            f.close()
