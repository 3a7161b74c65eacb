"""The dashboard in headless Chromium (Debian's, via Playwright): the events
this test triggers, search, detail and download; the rates chart with its
time axis; no horizontal overflow from 360 px up; a clear message for a
wrong token; the flame-graph panel showing a profile handed to it. No test
may leave an error in the console.

With RINGSCOPE_SCREENSHOTS=DIR the views are saved there
(tools/dashboard_screenshots.py makes the README's, after a few minutes of
traffic)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from ringscope.hub import Hub
from ringscope.server import ServerState
from ringscope.session import Session
from tests.conftest import need
from tests.kernel.perf_workloads import HOT_C, build
from tests.server.conftest import make_runner, open_session, touch_paths

CHROMIUM = "/usr/bin/chromium"
# SwiftShader for WebGL (speedscope draws with it) in a headless VM.
ARGS = ["--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run"]  # fmt: skip
TOKEN = "browser-test-token-0123456789"
ME = os.getpid()
WIDTHS = (360, 420, 768, 1280)
# A profile in speedscope's file format, as `ringscope report --format speedscope` writes it.
PROFILE = {
    "$schema": "https://www.speedscope.app/file-format-schema.json",
    "shared": {"frames": [{"name": n, "file": "hot"} for n in ("main", "hot_spin", "cold")]},
    "profiles": [
        {
            "type": "sampled",
            "name": "hot",
            "unit": "none",
            "startValue": 0,
            "endValue": 100,
            "samples": [[0, 1], [0, 2]],
            "weights": [97, 3],
        }
    ],
    "name": "hot",
    "activeProfileIndex": 0,
    "exporter": "test",
}


def shot_path(tmp_path: Path, name: str) -> str:
    out = Path(os.environ.get("RINGSCOPE_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return str(out / f"dashboard-{name}.png")


class Console:
    """Errors the page (or a frame in it) reported."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)


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


async def only_open_from_me(page: Page, url: str) -> None:
    """Open the page on a view of this process's opens, given in its URL
    (streaming a whole busy machine's events would only slow the test)."""
    await page.goto(url + f"/?types=open&pid={ME}")
    await expect(page.locator("#t-open")).to_be_checked()
    await expect(page.locator("#t-exec")).not_to_be_checked()
    await expect(page.locator("#f-pid")).to_have_value(str(ME))
    await expect(page.locator("#conn")).to_have_text("live")
    await expect(page.locator("#clients tbody tr")).to_have_count(1, timeout=5000)
    await expect(page.locator("#clients tbody")).to_contain_text(f"pid={ME}")


async def test_events_search_detail_and_download(browser: Browser, url: str, tmp_path: Path) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    console = Console(page)
    await only_open_from_me(page, url)
    paths = touch_paths(3)
    for p in paths:
        await expect(page.locator("#events tbody td.details", has_text=p)).to_have_count(1, timeout=5000)
    types = await page.locator("#events tbody tr.event td:nth-child(3)").all_inner_texts()
    assert set(types) == {"open"}
    # A true received counter: every event, not the rows the table keeps
    # (the server's own opens, made in this process, count too).
    many = touch_paths(1500)
    await page.wait_for_function("() => parseInt(document.querySelector('#received').textContent"
                                 ".replace(/,/g, '')) >= 1503")  # fmt: skip
    assert await page.locator("#events tbody tr.event").count() == 1000
    # Search, then the whole event as JSON on a click.
    await page.click("#pause")  # the table holds still while we look
    await page.fill("#search", many[-10].rsplit("-", 1)[1])
    await expect(page.locator("#events tbody tr.event")).to_have_count(1)
    await expect(page.locator("#shown")).to_have_text(re.compile(r"^1 match"))
    await page.locator("#events tbody tr.event").click()
    detail = json.loads(await page.locator("#events tbody tr.detail pre").inner_text())
    assert detail["path"] == many[-10] and detail["pid"] == ME and detail["type"] == "open"
    await page.screenshot(path=shot_path(tmp_path, "event-detail"))
    # Download: the events shown (the search's matches), oldest first, as NDJSON.
    await page.fill("#search", "ringscope-test-")
    shown = [json.loads(t)["path"] for t in await page.evaluate(
        "() => window.ringscope.events.shown().map((item) => item.line)")]  # fmt: skip
    assert len(shown) > 500 and shown == [p for p in many if p in set(shown)]
    async with page.expect_download() as info:
        await page.click("#download")
    rows = [json.loads(line) for line in Path(await (await info.value).path()).read_text().splitlines()]
    assert [r["path"] for r in rows] == shown
    assert console.errors == []
    # A bad filter is shown, not swallowed: the server's 400 names the parameter.
    await page.fill("#f-pid", "x")
    await page.click("#apply")
    await expect(page.locator("#filter-error")).to_contain_text("'pid'")
    # Apply puts the view in the page's URL, to share it.
    await page.fill("#f-pid", "1")
    await page.click("#apply")
    await expect(page.locator("#conn")).to_have_text("live")
    assert page.url.endswith("/?types=open&pid=1")


async def test_chart_has_a_time_axis_and_says_not_collected(
    browser: Browser, url: str, tmp_path: Path
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    console = Console(page)
    await only_open_from_me(page, url)
    touch_paths(50)
    labels = await page.wait_for_function("() => { const l = window.ringscope.chart.timeLabels();"
                                          " return l.length >= 2 ? l : null; }")  # fmt: skip
    assert all(re.fullmatch(r"\d\d:\d\d(:\d\d)?", x) for x in await labels.json_value())
    # Only "open" is asked for: the kernel does not collect the others.
    await expect(page.locator("#not-collected")).to_contain_text("exec")
    await expect(page.locator("#not-collected")).to_contain_text("syscall")
    await expect(page.locator(".u-legend")).to_contain_text("not collected")
    await expect(page.locator(".u-legend")).to_contain_text(re.compile(r"open\s*:?\s*[\d.]+k?/s"))
    await page.click("#metric-tabs button[data-metric=delivered]")
    await page.select_option("#range", "60")
    await page.screenshot(path=shot_path(tmp_path, "wide"), full_page=True)
    assert console.errors == []


async def test_no_horizontal_overflow_from_360_px(browser: Browser, url: str, tmp_path: Path) -> None:
    for width in WIDTHS:
        page = await browser.new_page(viewport={"width": width, "height": 800})
        console = Console(page)
        await page.goto(url + "/")
        await expect(page.locator("#conn")).to_have_text("live")
        touch_paths(5)
        await page.wait_for_function("() => window.ringscope.chart.timeLabels().length > 0")
        await expect(page.locator("#events tbody tr.event").first).to_be_visible()
        overflow = await page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"{width} px wide: the page is {overflow} px wide"
        chart = await page.evaluate("document.querySelector('#chart canvas').getBoundingClientRect().width")
        assert chart >= width - 80, f"{width} px wide: the chart is {chart} px"
        if width == 360:
            await page.screenshot(path=shot_path(tmp_path, "narrow"), full_page=True)
        assert console.errors == []
        await page.close()


async def test_wrong_token_gets_a_clear_message(browser: Browser) -> None:
    with open_session() as session:
        state = ServerState(hub=Hub.for_session(session), session=session, token=TOKEN)
        runner, base = await make_runner(state)
        try:
            page = await browser.new_page()
            await page.goto(base + "/")
            await expect(page.locator("#auth")).to_be_visible()
            await expect(page.locator("#auth-message")).to_contain_text("needs a bearer token")
            await page.fill("#token", "not-the-token-at-all")
            await page.click("#auth-form button")
            await expect(page.locator("#auth-message")).to_contain_text("Wrong token")
            await expect(page.locator("#conn")).to_have_text("wrong token")
            await page.fill("#token", TOKEN)
            await page.click("#auth-form button")
            await expect(page.locator("#conn")).to_have_text("live")
            await expect(page.locator("#auth")).to_be_hidden()
            assert TOKEN not in page.url
            await page.close()
        finally:
            await runner.cleanup()


async def test_flame_graph_panel_shows_a_profile_and_finds_a_function(
    browser: Browser, url: str, tmp_path: Path
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    console = Console(page)
    await page.goto(url + "/")
    await page.evaluate("doc => window.ringscope.showProfile(doc, 'hot for 1 s')", PROFILE)
    frame = page.frame_locator("#flamegraph iframe")
    await expect(frame.locator("body")).to_contain_text("hot for 1 s", timeout=10000)
    src = await page.locator("#flamegraph iframe").get_attribute("src")
    assert src is not None and src.startswith("/static/vendor/speedscope/index.html#profileURL=blob%3A")
    await frame.locator("body").click()
    await page.keyboard.press("Control+f")
    await frame.locator("input").fill("hot_spin")
    await expect(frame.locator("body")).to_contain_text(re.compile(r"[?\d]+/1\b"))
    await page.locator("#profile").screenshot(path=str(tmp_path / "flamegraph-panel.png"))
    assert console.errors == []


async def test_profile_button_records_a_process_and_shows_its_flame_graph(
    browser: Browser, url: str, tmp_path: Path
) -> None:
    hot = subprocess.Popen([str(build(HOT_C, tmp_path / "hot")), "30"])
    try:
        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        console = Console(page)
        await page.goto(url + "/")
        await page.check("input[name=p-target][value=pid]")
        await page.fill("#p-pid", str(hot.pid))
        await page.fill("#p-duration", "1")
        await page.click("#p-run")
        frame = page.frame_locator("#flamegraph iframe")
        await expect(frame.locator("body")).to_contain_text(f"pid {hot.pid}, 1 s, fp", timeout=20000)
        await frame.locator("body").click()
        await page.keyboard.press("Control+f")
        await frame.locator("input").fill("hot_spin")
        await expect(frame.locator("body")).to_contain_text(re.compile(r"[?\d]+/\d+\b"))
        assert console.errors == []
    finally:
        hot.kill()
        hot.wait()


async def test_histogram_panel(browser: Browser, url: str) -> None:
    page = await browser.new_page()
    console = Console(page)
    await page.goto(url + "/")
    await page.fill("#h-event", "runqlat")
    await page.fill("#h-duration", "0.5")
    await page.click("#h-run")
    await expect(page.locator("#hist-error")).to_contain_text("events", timeout=10000)
    await expect(page.locator("#hist-table tbody tr").first).to_be_visible()
    await page.fill("#h-event", "no:such:thing:at:all")
    await page.click("#h-run")
    await expect(page.locator("#hist-error")).to_contain_text("malformed probe spec", timeout=10000)
    assert [e for e in console.errors if "400" not in e] == []  # the refused request is logged by Chromium


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
            await expect(page.locator("#lost-kernel")).to_have_text(f"{kernel_lost:,}", timeout=10000)
            await expect(
                page.locator("#events tbody td.details", has_text="/nonexistent/").first
            ).to_be_visible()
            await expect(page.locator(".u-legend")).to_contain_text("open")
            assert errors == []
            await page.close()
        finally:
            await runner.cleanup()


async def test_an_eventsource_with_a_limit_stops_after_its_end(browser: Browser, url: str) -> None:
    page = await browser.new_page()
    console = Console(page)
    await page.goto(url + f"/?types=open&pid={ME}")
    await page.evaluate(f"""() => {{
        window.got = [];
        const es = new EventSource("/events?types=open&pid={ME}&limit=2");
        window.es = es;
        es.addEventListener("open", (e) => e.data && window.got.push(JSON.parse(e.data).path));
        es.addEventListener("end", (e) => window.got.push("end"));
    }}""")
    # After the end frame the browser reconnects once, gets a 204, and stops.
    for _ in range(100):
        touch_paths(1)  # events from this process, until the stream has had its two
        if await page.evaluate("window.es.readyState === 2"):
            break
        await asyncio.sleep(0.1)
    got = await page.evaluate("window.got")
    assert len(got) == 3 and got[-1] == "end"
    await asyncio.sleep(1.5)  # past the retry interval: nothing more
    assert await page.evaluate("window.es.readyState === 2 && window.got.length === 3")
    assert console.errors == []
