"""A real headless Chromium, driven by Playwright, against Django's live test server."""

import os
import shutil

import pytest
from playwright.sync_api import Page, sync_playwright

from postmortems.choices import Role
from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # The machine has no network: stop Chromium's own background calls.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("HINDSIGHT_CHROMIUM") or shutil.which("chromium")
    if not path:
        raise RuntimeError(
            "Chromium not found: install Debian's chromium package (scripts/test.sh does it "
            "when it can) or set HINDSIGHT_CHROMIUM."
        )
    return path


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API keeps an event loop running in this thread; the ORM
    # calls tests make between browser steps are still plain synchronous code.
    # (Processes the tests start drop this variable: see tests/processes.py.)
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def new_page(browser, live_server):
    """Open a fresh browser context (its own cookies) as a page on the live server."""
    contexts = []

    def open_page() -> Page:
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        # Any alert() a hostile payload managed to run is recorded (and dismissed).
        page.dialogs = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        return page

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


@pytest.fixture
def people(reference_data):
    return {
        role: UserFactory(username=role, role=role)
        for role in (Role.VIEWER, Role.AUTHOR, Role.REVIEWER)
    }
