"""Fixtures of the API tests: drivers of one fleet, a driver of another fleet, a fleet manager
without a driver profile, and API clients holding a real access token from the login endpoint."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from apps.drivers.models import Driver
from apps.fleets import services as fleets_services
from apps.payments import services as payments_services
from apps.payments.models import BillingRun
from tests.factories import (
    CostCenterFactory,
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    UserFactory,
)

PASSWORD = "correct horse battery staple"  # the password tests.factories.UserFactory sets


@pytest.fixture
def fleet():
    return FleetFactory(name="Voltop Logistics", currency="EUR", time_zone="Europe/Amsterdam")


@pytest.fixture
def cost_center(fleet):
    return CostCenterFactory(fleet=fleet, code="CC-100", name="Field service")


@pytest.fixture
def driver_a(fleet, cost_center) -> Driver:
    return DriverFactory(
        fleet=fleet,
        cost_center=cost_center,
        user=UserFactory(username="sanne", email="sanne@example.com"),
        employee_number="E00042",
        first_name="Sanne",
        last_name="de Vries",
        email="sanne@example.com",
        phone="+31 6 12345678",
    )


@pytest.fixture
def driver_b(fleet, cost_center) -> Driver:
    return DriverFactory(
        fleet=fleet,
        cost_center=cost_center,
        user=UserFactory(username="bram", email="bram@example.com"),
        first_name="Bram",
        last_name="Jansen",
        email="bram@example.com",
    )


@pytest.fixture
def other_fleet():
    return FleetFactory(name="Other Fleet", currency="EUR")


@pytest.fixture
def other_fleet_driver(other_fleet) -> Driver:
    return DriverFactory(
        fleet=other_fleet,
        user=UserFactory(username="olaf", email="olaf@example.com"),
        first_name="Olaf",
        last_name="Berg",
        email="olaf@example.com",
    )


@pytest.fixture
def manager_user(fleet):
    """A manager of driver A's fleet who has no driver profile."""
    return MembershipFactory(
        fleet=fleet, user__username="mila", user__email="mila@example.com"
    ).user


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()


@pytest.fixture
def api_client_for() -> Callable[..., APIClient]:
    """A factory: api_client_for(user) logs the user in through POST /api/v1/auth/login/ and
    returns an APIClient sending the access token as `Authorization: Bearer …`."""

    def client_for(user) -> APIClient:
        client = APIClient()
        response = client.post(
            "/api/v1/auth/login/", {"email": user.email, "password": PASSWORD}, format="json"
        )
        assert response.status_code == 200, response.content
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
        return client

    return client_for


@pytest.fixture
def driver_a_client(api_client_for, driver_a) -> APIClient:
    return api_client_for(driver_a.user)


@pytest.fixture
def driver_b_client(api_client_for, driver_b) -> APIClient:
    return api_client_for(driver_b.user)


@pytest.fixture
def other_fleet_driver_client(api_client_for, other_fleet_driver) -> APIClient:
    return api_client_for(other_fleet_driver.user)


@pytest.fixture
def manager_client(api_client_for, manager_user) -> APIClient:
    return api_client_for(manager_user)


@pytest.fixture
def run_billing(django_capture_on_commit_callbacks) -> Callable[..., BillingRun]:
    """Bill a fleet's period as the beat does; the work enqueued on commit runs as the
    transaction ends (Celery is eager in these tests)."""

    def run(fleet, label: str) -> BillingRun:
        with django_capture_on_commit_callbacks(execute=True):
            billing_run, _ = payments_services.billing_run_start(
                fleet=fleet, period=payments_services.billing_period_for(fleet=fleet, label=label)
            )
        billing_run.refresh_from_db()
        return billing_run

    return run


@pytest.fixture
def member_client(api_client_for) -> Callable[..., APIClient]:
    """A factory: member_client(role, fleet) makes a staff user holding a Membership of `role`
    in `fleet` and returns an APIClient logged in as them through the login endpoint.
    The user is on `client.user`, the membership on `client.membership`."""

    def client_for(role: str, fleet) -> APIClient:
        membership = MembershipFactory(fleet=fleet, role=role)
        client = api_client_for(membership.user)
        client.user = membership.user
        client.membership = membership
        return client

    return client_for


@pytest.fixture
def api_key_client() -> Callable[..., APIClient]:
    """A factory: api_key_client(role, fleet) issues a fleet API key with `role` and returns an
    APIClient sending it as `Authorization: Api-Key vt_…`. The key row is on `client.api_key`."""

    def client_for(role: str, fleet) -> APIClient:
        key, key_text = fleets_services.fleet_api_key_issue(
            fleet=fleet, name=f"{role.title()} integration", role=role
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key_text}")
        client.api_key = key
        return client

    return client_for
