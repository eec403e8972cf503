"""Schemathesis against the API's own OpenAPI schema, in-process: generated requests to every
driver operation (as a driver) and every fleet operation (as a manager and as an admin of the
fleet), on seeded data, get no 5xx and answers that conform to the schema: documented status,
content type and body."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.fleets.choices import MembershipRole
from tests.api.conftest import PASSWORD
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
