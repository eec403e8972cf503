"""Browser tests: Playwright drives a real Chromium against pytest-django's live server.

Browsers cannot be downloaded everywhere, so the tests use an installed Chromium: Debian's
/usr/bin/chromium, or the one VOLTOP_CHROMIUM points to. Without it a `browser` test skips, or
fails when VOLTOP_REQUIRE_SERVICES=1 (CI installs it).
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> Path:
    return Path(os.environ.get("VOLTOP_CHROMIUM") or "/usr/bin/chromium")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("browser") and not chromium_path().is_file():
        reason = (
            f"needs Chromium at {chromium_path()}: install Debian's chromium "
            "or set VOLTOP_CHROMIUM to a Chromium binary"
        )
        if settings.VOLTOP_REQUIRE_SERVICES:
            pytest.fail(f"{reason} (VOLTOP_REQUIRE_SERVICES=1, so this fails instead of skipping)")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for the tests of one module.

    Playwright's sync API keeps an asyncio loop running in the test's thread, and Django refuses
    ORM calls from a thread with a running loop. The tests still need the ORM there (factories,
    the flush after a transactional test), never from inside the loop, so Django's check is
    lifted while the browser is open, and only then.
    """
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=str(chromium_path()), args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot_dir() -> Path:
    """var/screenshots: what the browser saw, to look at after a run (not committed)."""
    directory = Path(settings.VAR_DIR) / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory
