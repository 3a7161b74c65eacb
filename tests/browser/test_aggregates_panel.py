"""The dashboard's aggregates panel in headless Chromium: one live heatmap
per aggregate, drawn from /api/aggregates; add and remove from the page."""

from __future__ import annotations

import asyncio
import os

from playwright.async_api import Browser, expect

from ringscope.hub import Hub
from ringscope.server import ServerState
from ringscope.sources.hist_query import parse_spec
from tests.browser.test_dashboard import browser  # noqa: F401  (fixture)
from tests.server.conftest import make_runner, open_session

ME = os.getpid()

# Pixels of the canvas that are not its background: the heatmap's cells.
LIT = """(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 40) n++; return n; }"""


async def test_heatmaps_follow_the_aggregates(browser: Browser) -> None:  # noqa: F811
    with open_session() as session:
        state = ServerState(hub=Hub.for_session(session), session=session)
        state.aggregates.add_all(
            state.aggregates.prepare_all([parse_spec(f"syscalls:sys_enter_getppid?latency=1&pid={ME}")])
        )
        runner, base = await make_runner(state)
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(base + "/")
            panel = page.locator(".agg").first
            await expect(panel).to_contain_text("ringscope_syscall_latency_seconds")
            for _ in range(3):  # three seconds of calls: columns of the heatmap
                await asyncio.to_thread(lambda: [os.getppid() for _ in range(500)])
                await asyncio.sleep(1.1)
            await expect(panel.locator(".agg-info")).to_contain_text("1500 in total", timeout=5000)
            assert await panel.locator("canvas").evaluate(LIT) > 0
            await page.fill("#agg-spec", "no:such:thing")
            await page.click("#agg-form button")
            await expect(page.locator("#agg-error")).to_contain_text("malformed probe spec", timeout=10000)
            await page.fill("#agg-spec", f"syscalls:sys_enter_getppid?by=comm&pid={ME}")
            await page.click("#agg-form button")
            await expect(page.locator(".agg")).to_have_count(2, timeout=10000)
            await page.locator(".agg", has_text="by=comm").locator("button").click()
            await expect(page.locator(".agg")).to_have_count(1, timeout=5000)
            assert errors == []
            await page.close()
        finally:
            await runner.cleanup()
