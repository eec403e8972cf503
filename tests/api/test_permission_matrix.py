"""The permission matrix of every API route and method, generated from the URL configuration:
a route added later is covered without editing this file (and fails here until its object is
named in OBJECT_OF_SEGMENT).

Two fleets, A and B, each hold one row of every model (tests.factories.fleet_rows_create). For
each caller, every route is requested with fleet A's objects and the answer's class is checked:

- anonymous: 401 everywhere but the public routes;
- driver A, whose rows they are: never 401/403/404 on /me/, 403 on /fleet/;
- driver B of the same fleet and a driver of fleet B: 404 on A's objects, and A's rows never
  in their lists; 403 on /fleet/;
- fleet A's members by role, and a fleet API key: 403 on /me/; on /fleet/ the role decides,
  and a viewer never writes;
- an admin of fleet B: 404 on fleet A's objects, and A's rows never in their lists.
"""

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from apps.charging.models import ChargingSession, ChargingStation, Connector, Tariff
from apps.drivers.models import ChargeToken, Driver
from apps.exports.models import ExportJob, ExportManifest
from apps.fleets.api.permissions import ALL_ROLES, EDITING_ROLES
from apps.fleets.choices import MembershipRole
from apps.fleets.models import CostCenter, Depot, Fleet, FleetApiKey, Invitation, Membership
from apps.fleets.services import fleet_api_key_issue, fleet_api_key_revoke
from apps.payments.models import (
    BillingRun,
    CostAllocation,
    CreditNote,
    Invoice,
    Payment,
    PayrollDeduction,
    Reimbursement,
    Statement,
)
from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment
from tests.api.conftest import PASSWORD
from tests.factories import DriverFactory, MembershipFactory, UserFactory, fleet_rows_create

pytestmark = pytest.mark.django_db

PUBLIC_ROUTES = {"api/v1/", "api/v1/auth/login/", "api/v1/auth/refresh/", "api/v1/auth/logout/"}
DOCUMENTATION_ROUTES = {"api/schema/", "api/docs/"}
DENIED = {401, 403, 404}
WRITES = ("post", "put", "patch", "delete")

OBJECT_OF_SEGMENT = {
    "sessions": ChargingSession,
    "tokens": ChargeToken,
    "charge-tokens": ChargeToken,
    "statements": Statement,
    "invoices": Invoice,
    "reimbursements": Reimbursement,
    "payments": Payment,
    "fleets": Fleet,
    "depots": Depot,
    "cost-centers": CostCenter,
    "members": Membership,
    "memberships": Membership,
    "api-keys": FleetApiKey,
    "invitations": Invitation,
    "drivers": Driver,
    "vehicles": Vehicle,
    "assignments": VehicleAssignment,
    "vehicle-assignments": VehicleAssignment,
    "odometer-readings": OdometerReading,
    "stations": ChargingStation,
    "connectors": Connector,
    "tariffs": Tariff,
    "billing-runs": BillingRun,
    "credit-notes": CreditNote,
    "cost-allocations": CostAllocation,
    "export-jobs": ExportJob,
    "export-manifests": ExportManifest,
    "payroll-deductions": PayrollDeduction,
    "start-requests": "start_request",
    "stop-requests": "stop_request",
}


@dataclass(frozen=True)
class Route:
    pattern: str
    methods: tuple[str, ...]
    view: type
    actions: dict

    def roles_for(self, method: str) -> frozenset[str]:
        """The fleet roles the route's view declares for `method` (fleet routes)."""
        action = self.actions.get(method)
        action_roles = getattr(self.view, "action_roles", {})
        if action in action_roles:
            return action_roles[action]
        if method == "get":
            return getattr(self.view, "read_roles", ALL_ROLES)
        return getattr(self.view, "write_roles", EDITING_ROLES)

    @property
    def is_driver_route(self) -> bool:
        return self.pattern.startswith("api/v1/me/")

    @property
    def is_fleet_route(self) -> bool:
        return self.pattern.startswith("api/v1/fleet/")

    @property
    def object_segment(self) -> str | None:
        match = re.search(r"([\w-]+)/<int:pk>", self.pattern)
        return match[1] if match else None

    def url(self, rows) -> str:
        path = "/" + self.pattern
        if self.object_segment is None:
            return path
        model = OBJECT_OF_SEGMENT[self.object_segment]
        return path.replace("<int:pk>", str(rows.row_of(model).pk))


def _route_text(pattern) -> str:
    """A pattern as path text: a router's regex `^drivers/(?P<pk>[^/.]+)/$` reads
    `drivers/<int:pk>/`, like a path() route."""
    text = str(pattern.pattern)
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<int:\1>", text)
    return text.removeprefix("^").removesuffix("$")


def _patterns(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + _route_text(pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + _route_text(pattern), pattern


def _methods(pattern: URLPattern) -> tuple[str, ...]:
    actions = getattr(pattern.callback, "actions", None)
    if actions:
        offered = pattern.callback.cls.http_method_names
        return tuple(
            method for method in ("get", *WRITES) if method in actions and method in offered
        )
    view = pattern.callback.view_class
    return tuple(method for method in ("get", *WRITES) if hasattr(view, method))


def api_routes() -> list[Route]:
    routes = []
    for text, pattern in _patterns(get_resolver().url_patterns):
        if not text.startswith("api/") or "<int:format>" in text:
            continue
        callback = pattern.callback
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        routes.append(
            Route(text, _methods(pattern), view, getattr(callback, "actions", None) or {})
        )
    return routes


ROUTES = [route for route in api_routes() if route.pattern not in DOCUMENTATION_ROUTES]


def test_every_object_route_names_its_object():
    unnamed = {
        route.pattern
        for route in ROUTES
        if route.object_segment is not None and route.object_segment not in OBJECT_OF_SEGMENT
    }
    assert not unnamed, f"add these routes' models to OBJECT_OF_SEGMENT: {sorted(unnamed)}"


@pytest.fixture
def fleets(settings, tmp_path, monkeypatch):
    """Fleets A and B with a row of every model, each session with a meter photo and each
    export manifest with its kept file; a second driver with a login in fleet A."""
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(
        ExportManifest._meta.get_field("file"),
        "storage",
        FileSystemStorage(location=tmp_path / "exports"),
    )
    rows_a, rows_b = fleet_rows_create(), fleet_rows_create()
    for rows in (rows_a, rows_b):
        rows.session.meter_photo.save("meter.jpg", ContentFile(b"a photo"), save=False)
        rows.session.save(update_fields=["meter_photo"])
        rows.export_manifest.file.save("sessions.csv", ContentFile(b"session_id\n"), save=False)
        rows.export_manifest.expires_at = timezone.now() + dt.timedelta(days=1)
        rows.export_manifest.save(update_fields=["file", "expires_at"])
    driver_b = DriverFactory(fleet=rows_a.fleet, user=UserFactory(email="driver-b@example.com"))
    return rows_a, rows_b, driver_b


def client_of(user=None, api_key_text: str | None = None) -> APIClient:
    client = APIClient()
    if api_key_text:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key_text}")
    elif user is not None:
        token = client.post(
            "/api/v1/auth/login/", {"email": user.email, "password": PASSWORD}, format="json"
        )
        assert token.status_code == 200, token.content
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['access']}")
    return client


def member_of(fleet, role: str):
    user = UserFactory(is_staff=True)
    MembershipFactory(fleet=fleet, user=user, role=role)
    return user


def request(client: APIClient, method: str, url: str):
    return getattr(client, method)(url, {}, format="json")


def ids_in(response) -> set[int]:
    body = response.json()
    rows = body.get("results", body) if isinstance(body, dict) else body
    return {row["id"] for row in rows if isinstance(row, dict) and "id" in row}


def requests_in_order(routes):
    """Reads first, then writes, deletes last: a write may change what later requests see."""
    order = {"get": 0, "post": 1, "put": 1, "patch": 1, "delete": 2}
    pairs = [(route, method) for route in routes for method in route.methods]
    return sorted(pairs, key=lambda pair: order[pair[1]])


def test_anonymous_callers_get_401_everywhere_but_the_public_routes(fleets):
    rows_a, _, _ = fleets
    client = APIClient()

    wrong = [
        (method, route.pattern, response.status_code)
        for route, method in requests_in_order(ROUTES)
        if route.pattern not in PUBLIC_ROUTES
        and (response := request(client, method, route.url(rows_a))).status_code != 401
    ]

    assert wrong == []


def test_the_driver_whose_rows_they_are_reaches_every_driver_route_and_no_fleet_route(fleets):
    rows_a, _, _ = fleets
    client = client_of(rows_a.driver.user)

    wrong = []
    for route, method in requests_in_order(
        [route for route in ROUTES if route.is_driver_route or route.is_fleet_route]
    ):
        status = request(client, method, route.url(rows_a)).status_code
        if route.is_driver_route and status in DENIED:
            wrong.append((method, route.pattern, status))
        if route.is_fleet_route and status != 403:
            wrong.append((method, route.pattern, status))

    assert wrong == []


# Driver lists of the fleet's rows that every driver of the fleet sees (its depot chargers),
# unlike a driver's own rows; a driver of another fleet never sees them.
FLEET_SHARED_DRIVER_LISTS = {"api/v1/me/stations/"}


@pytest.mark.parametrize("who", ["driver of the same fleet", "driver of another fleet"])
def test_other_drivers_get_404_on_the_drivers_rows_and_never_see_them(fleets, who):
    rows_a, rows_b, driver_b = fleets
    other = driver_b if who == "driver of the same fleet" else rows_b.driver
    client = client_of(other.user)

    wrong = []
    for route, method in requests_in_order([route for route in ROUTES if route.is_driver_route]):
        response = request(client, method, route.url(rows_a))
        if route.object_segment is not None and response.status_code != 404:
            wrong.append((method, route.pattern, response.status_code))
        if (
            route.object_segment is None
            and method == "get"
            and response.status_code == 200
            and route.pattern.rstrip("/").split("/")[-1] in OBJECT_OF_SEGMENT
            and not (
                who == "driver of the same fleet" and route.pattern in FLEET_SHARED_DRIVER_LISTS
            )
        ):
            model = OBJECT_OF_SEGMENT[route.pattern.rstrip("/").split("/")[-1]]
            if rows_a.row_of(model).pk in ids_in(response):
                wrong.append((method, route.pattern, "shows driver A's row"))

    assert wrong == []


@pytest.mark.parametrize("role", MembershipRole.values)
def test_a_fleet_member_reaches_fleet_routes_as_their_role_allows_and_no_driver_route(fleets, role):
    rows_a, _, _ = fleets
    client = client_of(member_of(rows_a.fleet, role))

    wrong = []
    for route, method in requests_in_order(
        [route for route in ROUTES if route.is_driver_route or route.is_fleet_route]
    ):
        status = request(client, method, route.url(rows_a)).status_code
        if route.is_driver_route and status != 403:
            wrong.append((method, route.pattern, status))
        if not route.is_fleet_route:
            continue
        allowed = role in route.roles_for(method)
        if role == MembershipRole.VIEWER and method in WRITES and allowed:
            wrong.append((method, route.pattern, "declares that a viewer may write"))
        if allowed and status in DENIED:
            wrong.append((method, route.pattern, status))
        if not allowed and status != 403:
            wrong.append((method, route.pattern, status))

    assert wrong == []


@pytest.mark.parametrize("role", [MembershipRole.VIEWER, MembershipRole.FINANCE])
def test_a_fleet_api_key_reaches_fleet_routes_as_its_role_allows_and_no_driver_route(fleets, role):
    rows_a, _, _ = fleets
    _, text = fleet_api_key_issue(fleet=rows_a.fleet, name="ERP", role=role)
    client = client_of(api_key_text=text)

    wrong = []
    for route, method in requests_in_order(
        [route for route in ROUTES if route.is_driver_route or route.is_fleet_route]
    ):
        status = request(client, method, route.url(rows_a)).status_code
        allowed = route.is_fleet_route and role in route.roles_for(method)
        if allowed and status in DENIED:
            wrong.append((method, route.pattern, status))
        if not allowed and status != 403:
            wrong.append((method, route.pattern, status))

    assert wrong == []


def test_a_revoked_api_key_is_refused_everywhere(fleets):
    rows_a, _, _ = fleets
    key, text = fleet_api_key_issue(fleet=rows_a.fleet, name="ERP", role=MembershipRole.ADMIN)
    fleet_api_key_revoke(key=key)
    client = client_of(api_key_text=text)

    wrong = [
        (method, route.pattern, status)
        for route, method in requests_in_order(
            [route for route in ROUTES if route.is_fleet_route or route.is_driver_route]
        )
        if (status := request(client, method, route.url(rows_a)).status_code) != 401
    ]

    assert wrong == []


def test_an_admin_of_another_fleet_gets_404_on_this_fleets_rows_and_never_sees_them(fleets):
    rows_a, rows_b, _ = fleets
    client = client_of(member_of(rows_b.fleet, MembershipRole.ADMIN))

    wrong = []
    for route, method in requests_in_order([route for route in ROUTES if route.is_fleet_route]):
        response = request(client, method, route.url(rows_a))
        if route.object_segment is not None and response.status_code != 404:
            wrong.append((method, route.pattern, response.status_code))
        segment = route.pattern.rstrip("/").split("/")[-1]
        if (
            route.object_segment is None
            and method == "get"
            and response.status_code == 200
            and segment in OBJECT_OF_SEGMENT
            and rows_a.row_of(OBJECT_OF_SEGMENT[segment]).pk in ids_in(response)
        ):
            wrong.append((method, route.pattern, "shows fleet A's row"))

    assert wrong == []
