"""A driver's address, which invoices are made out to: written through driver_create and
driver_update, in the admin's "Address on invoices" fieldset and the fleet API; blank allowed,
an unknown country refused naming the field with nothing saved."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.drivers.models import Driver
from apps.drivers.services import driver_create, driver_update
from apps.fleets.choices import MembershipRole
from tests.factories import DriverFactory, FleetFactory, MembershipFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

ADDRESS = {
    "street": "Prinsengracht 263",
    "postal_code": "1016 GV",
    "city": "Amsterdam",
    "country": "NL",
}


def address_of(driver: Driver) -> dict:
    row = Driver.objects.values("street", "postal_code", "city", "country").get(pk=driver.pk)
    return {**row, "country": str(row["country"])}


def test_driver_create_stores_the_address():
    driver = driver_create(
        fleet=FleetFactory(),
        employee_number="E00042",
        first_name="Sanne",
        last_name="de Vries",
        email="sanne@example.com",
        **ADDRESS,
    )

    assert address_of(driver) == ADDRESS


def test_a_driver_made_without_an_address_has_a_blank_one():
    driver = driver_create(
        fleet=FleetFactory(),
        employee_number="E00042",
        first_name="Sanne",
        last_name="de Vries",
        email="sanne@example.com",
    )

    assert address_of(driver) == {"street": "", "postal_code": "", "city": "", "country": ""}


def test_driver_update_changes_the_address():
    driver = DriverFactory()

    driver_update(driver=driver, changes=ADDRESS)

    assert address_of(driver) == ADDRESS


def test_an_unknown_country_is_refused_on_its_field_and_nothing_changes():
    driver = DriverFactory()
    driver_update(driver=driver, changes=ADDRESS)

    with pytest.raises(ValidationError) as refused:
        driver_update(driver=driver, changes={"street": "Elsewhere 1", "country": "XX"})

    assert refused.value.message_dict == {"country": ["Value 'XX' is not a valid choice."]}
    assert address_of(driver) == ADDRESS


def test_the_driver_admin_shows_and_saves_the_address(client):
    fleet = FleetFactory()
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleet, role=MembershipRole.MANAGER)
    client.force_login(user)
    driver = DriverFactory(fleet=fleet)
    change = reverse("admin:drivers_driver_change", args=[driver.pk])
    payload = {
        "fleet": str(fleet.pk),
        "employee_number": driver.employee_number,
        "first_name": driver.first_name,
        "last_name": driver.last_name,
        "status": driver.status,
        "email": driver.email,
        "phone": "",
        "user": "",
        "licence_number": "",
        "licence_expires_on": "",
        "cost_center": "",
        "home_rate_per_kwh": "0.25000",
        "iban": driver.iban,
        **ADDRESS,
        "tokens-TOTAL_FORMS": "0",
        "tokens-INITIAL_FORMS": "0",
    }

    page = client.get(change)
    response = client.post(change, payload)

    fieldsets = {fieldset.name: list(fieldset.fields) for fieldset in page.context["adminform"]}
    assert fieldsets["Address on invoices"] == ["street", "postal_code", "city", "country"]
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert address_of(driver) == ADDRESS
