"""A real browser (Debian's Chromium driven by Playwright) on the served dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_harness import REPO, SCRIPT_REASON, ServedDashboard
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "tests" / "output" / "dashboard"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package chromium (scripts/setup.sh does)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_overview_shows_a_card_per_channel_with_checks(page: Page, served: ServedDashboard) -> None:
    page.goto(served.base_url + "/")
    cards = page.locator("section.card")
    expect(cards).to_have_count(2)
    expect(page.locator('section.card[data-channel="shipit-sandbox"] h2')).to_contain_text("shipit-sandbox")
    expect(page.locator('section.card[data-channel="shipit-sandbox2"] .live')).not_to_be_empty()
    expect(cards.first.locator("tr.check").first).to_be_visible()
    shot(page, "overview")


def test_script_in_a_reason_is_shown_as_text(page: Page, served: ServedDashboard) -> None:
    page.goto(served.base_url + "/")
    expect(page.get_by_text(SCRIPT_REASON).first).to_be_visible()
    assert page.evaluate("window.__pwned") is None
    newest = served.outcomes[-1]
    page.goto(served.base_url + "/history")
    expect(page.locator("tr.run").first.locator("td.reason")).to_have_text(SCRIPT_REASON)
    assert page.evaluate("window.__pwned") is None
    page.locator("tr.run").first.get_by_role("link").click()
    expect(page.locator("#reason")).to_have_text(SCRIPT_REASON)
    assert newest["id"] in page.content()
    assert page.evaluate("window.__pwned") is None


def test_a_filter_narrows_the_history_and_paging_walks_it(page: Page, served: ServedDashboard) -> None:
    page.goto(served.base_url + "/history")
    expect(page.locator("tr.run")).to_have_count(50)
    page.select_option("select[name=status]", "rolled_back")
    page.fill("input[name=channel]", "shipit-sandbox2")
    page.get_by_role("button", name="Filter").click()
    expected = [o for o in served.outcomes if o["status"] == "rolled_back" and o["channel"] == "shipit-sandbox2"]
    expect(page.locator("tr.run")).to_have_count(len(expected))
    for cell in page.locator("tr.run td:nth-child(2)").all_inner_texts():
        assert cell == "shipit-sandbox2"
    shot(page, "history_filtered")

    page.goto(served.base_url + "/history")
    seen: list[str] = []
    while True:
        seen += page.locator("tr.run td:first-child a").evaluate_all("links => links.map(a => a.title)")
        older = page.locator("a.next")
        if older.count() == 0:
            break
        older.click()
    assert len(seen) == len(served.outcomes) == len(set(seen))
    assert seen == sorted(seen, reverse=True)


def test_run_detail_shows_each_check(page: Page, served: ServedDashboard) -> None:
    outcome = next(o for o in served.outcomes if o["status"] == "rolled_back")
    page.goto(served.base_url + "/history?status=rolled_back")
    page.locator("tr.run td:first-child a").first.click()
    checks = page.locator("table.checks").first.locator("tr.check")
    expect(checks).to_have_count(len(outcome["verdict"]["checks"]))
    expect(page.locator("table.checks").first).to_contain_text("command_round_trip")
    expect(page.get_by_role("heading", name="Rollback")).to_be_visible()
    shot(page, "run_detail")


def test_charts_render_as_svg(page: Page, served: ServedDashboard) -> None:
    page.goto(served.base_url + "/charts?days=7")
    charts = page.locator("svg.chart")
    expect(charts).to_have_count(4)
    assert page.locator("svg.chart rect.bar").count() > 0
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    shot(page, "charts")
    page.goto(served.base_url + "/dora")
    expect(page.locator("table.dora tr")).not_to_have_count(1)
    shot(page, "dora")
