"""Steps the browser tests share on the admin's pages."""

import re

from django.urls import reverse
from playwright.sync_api import Locator, Page, expect


def admin_log_in(page: Page, base_url: str, username: str, password: str) -> None:
    """Log in on the admin's login page and wait for the dashboard it leads to."""
    page.goto(f"{base_url}{reverse('admin:login')}?next={reverse('admin:index')}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base_url}{reverse('admin:index')}")


def sidebar_link(page: Page, title: str) -> Locator:
    """The sidebar's link to a page, by its title (the link's name also holds its icon's)."""
    return page.locator("#nav-sidebar-inner, nav").get_by_role(
        "link", name=re.compile(rf"(^|\s){re.escape(title)}$")
    )
