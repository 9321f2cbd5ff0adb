"""A supervisor opens the admin home at 1280 px: the day's charts are drawn, the figures refresh themselves, and a
figure opens the rows it counts."""

from __future__ import annotations

import pytest

from apps.callbacks.models import CallbackState
from tests.browser.conftest import SCREENSHOTS
from tests.dashboard.known_day import DAY, Builder, at, build_known_day

pytestmark = pytest.mark.django_db(transaction=True)

CHARTS = ("chart-callbacks", "chart-queues", "chart-conversations", "chart-events", "chart-api")
# Pixels a chart has drawn on its canvas (axes, bars, legend): a blank canvas has none.
DRAWN_PIXELS = """(id) => {
  const canvas = document.getElementById(id);
  const context = canvas.getContext("2d");
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) drawn++;
  return drawn;
}"""


def test_the_dashboard_draws_refreshes_and_links_to_the_rows(browser, live_server, make_user, settings):
    settings.CX_DASHBOARD_REFRESH_SECONDS = 5
    day = build_known_day()
    make_user("Supervisor", username="sue")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def screenshot(name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    try:
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "sue")
        page.fill("#id_password", "pw-123-long")
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")
        page.goto(f"{live_server.url}/admin/?since={DAY.isoformat()}&until={DAY.isoformat()}")
        page.wait_for_selector(".glance[data-drawn=yes]")
        for chart in CHARTS:
            assert page.evaluate(DRAWN_PIXELS, chart) > 500, chart
            assert page.evaluate(f"Chart.getChart(document.getElementById('{chart}')) !== undefined")
        # Nothing is wider than the window.
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        unknown = page.locator("#glance-callbacks a.glance-figure").first
        assert unknown.locator(".n").inner_text() == "2"
        screenshot("dashboard-1280")

        # A callback's outcome becomes unknown: the figure follows without a reload.
        Builder(day.a, day.conversations["c1"].inbox).callback(CallbackState.UNKNOWN, at(11, 11))
        page.wait_for_function(
            "() => document.querySelector('#glance-callbacks a.glance-figure .n').textContent === '3'", timeout=20_000
        )
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # still the same page

        unknown.click()
        page.wait_for_url("**/admin/callbacks/queuecallback/?state__exact=unknown")
        assert page.locator("#result_list tbody tr").count() == 3
        screenshot("dashboard-followed-unknown")

        # A bar opens the rows of its hour: the callbacks placed between 9:00 and 10:00.
        page.goto(f"{live_server.url}/admin/?since={DAY.isoformat()}&until={DAY.isoformat()}")
        page.wait_for_selector(".glance[data-drawn=yes]")
        bar = page.evaluate(
            """() => {
              const chart = Chart.getChart(document.getElementById('chart-callbacks'));
              const bar = chart.getDatasetMeta(0).data[9];
              const box = chart.canvas.getBoundingClientRect();
              return {x: box.left + bar.x, y: box.top + (bar.y + bar.base) / 2};
            }"""
        )
        page.mouse.click(bar["x"], bar["y"])
        page.wait_for_url("**/admin/callbacks/queuecallback/?*")
        assert "state__exact=placed" in page.url and "finished_at__gte=2026-11-02T09" in page.url
        assert page.locator("#result_list tbody tr").count() == 3

        # A range of days is drawn per day; the lag is the bucket each percentile falls in.
        page.goto(f"{live_server.url}/admin/?since=2026-11-01&until=2026-11-03")
        page.wait_for_selector(".glance[data-drawn=yes]")
        assert page.evaluate("Chart.getChart(document.getElementById('chart-api')).data.labels.length") == 3
        assert page.locator("[data-value='events.lag.p99_text']").inner_text() == "≤ 5 min"
        screenshot("dashboard-3-days")

        # Django's list of everything stays reachable from the home.
        page.goto(f"{live_server.url}/admin/")
        page.click("text=All sections ↓")
        assert page.locator("#all-sections").is_visible()
        assert page.locator(".app-callbacks").count() == 1
    finally:
        context.close()
