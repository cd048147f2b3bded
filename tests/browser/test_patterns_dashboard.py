"""The patterns dashboard in a real browser: charts drawn, tables reachable, nothing blocked."""

import os
import re

from patterns.services import refresh_patterns
from postmortems.demo.loader import load_demo
from tests.browser.conftest import sign_in


def test_the_demo_dashboard_draws_its_charts_and_leads_to_the_pattern(new_page, people):
    load_demo()
    refresh_patterns()
    page = new_page()
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused" in message.text
            else None
        ),
    )
    sign_in(page, "viewer")

    page.get_by_role("link", name="Patterns").click()

    charts = page.get_by_role("img")
    names = [charts.nth(i).get_attribute("aria-labelledby") for i in range(charts.count())]
    assert len([n for n in names if n and n.startswith("chart-")]) == 3
    svg_box = page.locator("svg.chart-svg").first.bounding_box()
    assert svg_box["width"] > 400 and svg_box["height"] > 100  # drawn at size, not collapsed
    # A series colour comes from the stylesheet, not an inline style.
    fill = page.locator("svg.chart-svg rect.series-0").first.evaluate(
        "el => getComputedStyle(el).fill"
    )
    assert fill not in ("", "none", "rgb(0, 0, 0)")
    page.get_by_text("Data table").first.click()
    assert page.get_by_role("table", name="Incidents per month by change type").is_visible()
    if os.environ.get("HINDSIGHT_SCREENSHOTS"):
        page.screenshot(path=os.environ["HINDSIGHT_SCREENSHOTS"], full_page=True)

    page.get_by_role("combobox", name="Shared by at least").select_option("2")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("link", name=re.compile(r"^Time event \+ Certificate expiry — ")).click()

    assert (
        page.get_by_role("heading", level=1)
        .inner_text()
        .startswith("Time event + Certificate expiry — 4 incidents")
    )
    assert page.get_by_text("4 incidents where 0.7 were expected by chance").is_visible()
    assert violations == []
