"""A fleet's team in a real browser: a fleet admin invites a colleague on the admin's invite
form, the colleague opens the e-mailed link, sets a password, logs in, sees the fleet and
the page to turn on two-factor login."""

import re

import pytest
from django.core import mail
from django.urls import reverse
from playwright.sync_api import Page, expect

from apps.fleets.choices import MembershipRole
from apps.fleets.models import Membership
from tests.factories import FleetFactory, MembershipFactory, StaffUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
COLLEAGUE_PASSWORD = "a-long-password-of-lena"


def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}{reverse('admin:login')}?next={reverse('admin:index')}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base_url}{reverse('admin:index')}")


def test_a_fleet_admin_invites_a_colleague_who_joins_and_logs_in(
    live_server, page: Page, screenshot_dir
):
    fleet = FleetFactory(name="Rotterdam taxis")
    FleetFactory(name="Someone else's fleet")
    anna = StaffUserFactory(username="anna", email="anna@example.com")
    MembershipFactory(user=anna, fleet=fleet, role=MembershipRole.ADMIN)
    mail.outbox.clear()

    log_in(page, live_server.url, "anna", PASSWORD)
    page.goto(f"{live_server.url}{reverse('admin:fleets_invitation_add')}")
    page.locator(".field-fleet .select2-selection").click()
    page.locator(".select2-search__field").fill("Rotterdam")
    page.locator(".select2-results__option", has_text="Rotterdam taxis").click()
    page.get_by_label("Email").fill("lena@example.com")
    page.get_by_label("Role").select_option(MembershipRole.MANAGER)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("lena@example.com is invited")).to_be_visible()
    page.screenshot(path=screenshot_dir / "team-invited.png", full_page=True)

    (message,) = mail.outbox
    link = re.search(r"(/invitations/[\w-]+/)", message.body).group(1)
    page.context.clear_cookies()
    page.goto(f"{live_server.url}{link}")
    expect(page.get_by_text("You are invited to")).to_be_visible()
    page.locator("#id_password").fill(COLLEAGUE_PASSWORD)
    page.locator("#id_password_confirm").fill(COLLEAGUE_PASSWORD)
    page.screenshot(path=screenshot_dir / "team-accept.png", full_page=True)
    page.get_by_role("button", name="Join Rotterdam taxis").click()
    expect(page.get_by_text("Welcome to Rotterdam taxis")).to_be_visible()

    page.get_by_label("Username").fill("lena@example.com")
    page.get_by_label("Password").fill(COLLEAGUE_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}{reverse('admin:index')}")
    page.goto(f"{live_server.url}{reverse('admin:fleets_fleet_changelist')}")
    expect(page.locator("#result_list")).to_contain_text("Rotterdam taxis")
    expect(page.locator("#result_list")).not_to_contain_text("Someone else's fleet")
    page.screenshot(path=screenshot_dir / "team-colleague.png", full_page=True)
    page.goto(f"{live_server.url}{reverse('two-factor-setup')}")
    expect(page.locator("#two-factor-qr svg")).to_be_visible()
    page.screenshot(path=screenshot_dir / "team-two-factor.png", full_page=True)

    membership = Membership.objects.get(user__username="lena@example.com")
    assert (membership.fleet, membership.role) == (fleet, MembershipRole.MANAGER)
