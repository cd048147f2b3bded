"""Take the README's screenshots from a running Hindsight with the demo loaded.

./scripts/run.sh &    # then, once it is up:
.venv/bin/python scripts/screenshots.py [http://127.0.0.1:8000]
"""

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
INCIDENT = "/incidents/azure-leap-day-2012-02/"


def main(base_url: str) -> None:
    credentials = dict(
        (line.split("\t")[0], line.split("\t")[2])
        for line in (ROOT / "var" / "credentials.tsv").read_text().splitlines()
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        page = browser.new_page(base_url=base_url, viewport={"width": 1280, "height": 1000})
        page.goto("/accounts/login/")
        page.get_by_label("User name").fill("author")
        page.get_by_label("Password").fill(credentials["author"])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/")
        page.goto(INCIDENT)
        # Header, summary and the start of the visual timeline in one picture.
        page.set_viewport_size({"width": 1280, "height": 2300})
        page.screenshot(path=ROOT / "docs" / "incident-page.png")
        page.set_viewport_size({"width": 1280, "height": 1000})
        page.goto("/incidents/new/")
        page.get_by_role("textbox", name="Summary", exact=True).fill(
            "A **configuration change** enabled a code path with an infinite loop.\n\n"
            "- rolled out to *most regions at once*\n- flighting missed it"
        )
        page.locator("#id_summary").scroll_into_view_if_needed()
        page.wait_for_timeout(800)
        page.screenshot(path=ROOT / "docs" / "editor.png")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
