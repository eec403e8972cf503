"""Schemathesis against the API's own OpenAPI schema, in-process: generated requests to every
driver operation (as a driver) and every fleet operation (as a manager and as an admin of the
fleet), on seeded data, get no 5xx and answers that conform to the schema: documented status,
content type and body.

A tariff import's `document` is free JSON in the schema, so what Schemathesis makes of it alone
never looks like an OCPI tariff and stops at the first missing field. The tariff imports are
also run, as an admin of the seeded fleet, with OCPI-like documents drawn from
`ocpi_tariff_documents`: well-formed in shape, with prices, VAT rates, steps, restrictions and
minimum and maximum prices from ordinary to far beyond what a tariff holds."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.fleets.choices import MembershipRole
from tests.api.conftest import PASSWORD
from tests.charging.ocpi_tariff_documents import ocpi_tariff_documents
from tests.factories import MembershipFactory, UserFactory, fleet_rows_create

pytestmark = pytest.mark.django_db


def in_test_transaction(application):
    """The WSGI app, answering inside the test's database transaction: Django closes the
    connection at the end of each request, which would end the test's transaction, so that is
    held off while a request is served, as Django's test client does."""

    def serve(environ, start_response):
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            response = application(environ, start_response)
            body = list(response)
            response.close()
            return body
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)

    return serve


schema = schemathesis.openapi.from_wsgi("/api/schema/", in_test_transaction(get_wsgi_application()))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
GENERATION = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def bearer_for(user) -> dict:
    response = APIClient().post(
        "/api/v1/auth/login/", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return {"Authorization": f"Bearer {response.json()['access']}"}


@pytest.fixture
def seeded():
    """A fleet with a row of every model, and a second fleet."""
    fleet_rows_create()
    return fleet_rows_create()


@pytest.fixture
def driver_headers(seeded) -> dict:
    return bearer_for(seeded.driver.user)


@pytest.fixture(params=[MembershipRole.MANAGER, MembershipRole.ADMIN])
def fleet_member_headers(request, seeded) -> dict:
    member = UserFactory(is_staff=True)
    MembershipFactory(fleet=seeded.fleet, user=member, role=request.param)
    return bearer_for(member)


@schema.include(path_regex=r"^/api/v1/me/").parametrize()
@GENERATION
def test_driver_operations_conform_to_the_schema(case, driver_headers):
    case.call_and_validate(headers=driver_headers, checks=CHECKS)


@schema.include(path_regex=r"^/api/v1/fleet/").parametrize()
@GENERATION
def test_fleet_operations_conform_to_the_schema(case, fleet_member_headers):
    case.call_and_validate(headers=fleet_member_headers, checks=CHECKS)


tariff_imports = schema.include(path="/api/v1/fleet/tariffs/", method="POST")


# The two hooks below apply to the one test they decorate: registered on the schema, they
# would reach every operation of the other tests too.
def json_bodies_only(context, strategy):
    """JSON bodies only: a form field holds the document as text, which the JSON cases cover."""
    return strategy.filter(lambda case: case.media_type == "application/json")


def ocpi_tariff_bodies(context, body):
    """An import body of an OCPI-like tariff document, perhaps with a name; the test gives the
    fleet, which no strategy knows before the fixtures make it."""
    return st.fixed_dictionaries(
        {"document": ocpi_tariff_documents()},
        optional={"name": st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=20)},
    )


# Each example imports a tariff (a few queries and a version published): 150 examples take
# about 16 s here, and reach every refusal of the document (the probes' minimum above the
# maximum, 1e20 prices, a VAT rate of 1000 among them) as well as documents imported whole.
TARIFF_GENERATION = settings(GENERATION, max_examples=150)


@pytest.fixture
def fleet_admin_headers(seeded) -> dict:
    admin = UserFactory(is_staff=True)
    MembershipFactory(fleet=seeded.fleet, user=admin, role=MembershipRole.ADMIN)
    return bearer_for(admin)


@schema.hooks.apply(json_bodies_only, name="before_generate_case")
@schema.hooks.apply(ocpi_tariff_bodies, name="flatmap_body")
@tariff_imports.parametrize()
@TARIFF_GENERATION
def test_tariff_imports_of_ocpi_like_documents_conform_to_the_schema(
    case, seeded, fleet_admin_headers
):
    if isinstance(case.body, dict):
        case.body["fleet"] = seeded.fleet.pk
    case.call_and_validate(headers=fleet_admin_headers, checks=CHECKS)
