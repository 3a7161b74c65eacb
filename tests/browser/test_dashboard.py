"""The dashboard in headless Chromium (Debian's, via Playwright) shows the
events this test triggers, the rate chart, loss counters and clients."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect

from ringscope.hub import Hub
from ringscope.server import ServerState
from ringscope.session import Session
from tests.conftest import need
from tests.server.conftest import make_runner, open_session, touch_paths

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
TOKEN = "browser-test-token-0123456789"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    need(Path(CHROMIUM).exists(), "Debian chromium is not installed (make test installs it)")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        await b.close()


@pytest.fixture
async def url() -> AsyncIterator[str]:
    with open_session() as session:
        state = ServerState(hub=Hub.for_session(session), session=session)
        runner, base = await make_runner(state)
        yield base
        await runner.cleanup()


async def test_dashboard_shows_triggered_events(browser: Browser, url: str, tmp_path: Path) -> None:
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(url + "/")
    await expect(page.locator("#t-open")).to_be_checked()
    await page.uncheck("#t-exec")
    await page.uncheck("#t-syscall")
    await page.fill("#f-pid", str(os.getpid()))
    await page.click("#apply")
    await expect(page.locator("#conn")).to_have_text("live")
    await expect(page.locator("#clients tbody tr")).to_have_count(1, timeout=5000)
    paths = touch_paths(3)
    for p in paths:
        await expect(page.locator("#events tbody td.details", has_text=p)).to_have_count(1, timeout=5000)
    types = await page.locator("#events tbody tr td:nth-child(3)").all_inner_texts()
    assert set(types) == {"open"}
    await expect(page.locator("#clients tbody")).to_contain_text(f"pid={os.getpid()}")
    await expect(page.locator("#legend")).to_contain_text("open")
    await expect(page.locator("#lost-kernel")).to_have_text("0")
    await expect(page.locator("#ring-fill")).to_contain_text("%")
    await page.screenshot(path=str(tmp_path / "dashboard.png"))
    # A bad filter is shown, not swallowed: the server's 400 names the parameter.
    await page.fill("#f-pid", "x")
    await page.click("#apply")
    await expect(page.locator("#filter-error")).to_contain_text("'pid'")
    assert errors == []
    await page.close()


async def test_dashboard_with_token(browser: Browser) -> None:
    with open_session() as session:
        state = ServerState(hub=Hub.for_session(session), session=session, token=TOKEN)
        runner, base = await make_runner(state)
        try:
            page = await browser.new_page()
            await page.goto(base + "/")
            await expect(page.locator("#auth")).to_be_visible()
            await page.fill("#token", TOKEN)
            await page.click("#auth-form button")
            await expect(page.locator("#conn")).to_have_text("live")
            assert TOKEN not in page.url
            await page.close()
        finally:
            await runner.cleanup()


async def test_dashboard_histogram_panel(browser: Browser, url: str) -> None:
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(url + "/")
    await page.fill("#h-event", "runqlat")
    await page.fill("#h-duration", "0.5")
    await page.click("#h-run")
    await expect(page.locator("#hist-error")).to_contain_text("events", timeout=10000)
    await expect(page.locator("#hist-table tbody tr").first).to_be_visible()
    await page.fill("#h-event", "no:such:thing:at:all")
    await page.click("#h-run")
    await expect(page.locator("#hist-error")).to_contain_text("malformed probe spec", timeout=10000)
    assert not errors


async def test_dashboard_plays_a_capture_with_its_losses(browser: Browser) -> None:
    data = Path(__file__).parent.parent / "data"
    live = [json.loads(line) for line in (data / "lost.ndjson").read_text().splitlines()]
    kernel_lost = sum(r["count"] for r in live if r["type"] == "lost")
    with Session.replay(data / "lost.rscap") as session:  # no kernel, no privilege
        runner, base = await make_runner(ServerState(hub=Hub.for_session(session), session=session))
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(base + "/")
            await expect(page.locator("#conn")).to_have_text("live")
            await expect(page.locator("#lost-kernel")).to_have_text(str(kernel_lost), timeout=10000)
            await expect(
                page.locator("#events tbody td.details", has_text="/nonexistent/").first
            ).to_be_visible()
            await expect(page.locator("#legend")).to_contain_text("open")
            assert errors == []
            await page.close()
        finally:
            await runner.cleanup()
