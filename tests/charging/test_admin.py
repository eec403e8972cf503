"""Admin of the charging app: connectors edited inline by the fleet's manager, and sessions whose
driver, vehicle, token and connector must all be of the session's fleet."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.charging.choices import ConnectorStandard, PowerType
from apps.charging.models import ChargingSession
from apps.fleets.choices import MembershipRole
from tests.factories import (
    ChargeTokenFactory,
    ChargingStationFactory,
    ConnectorFactory,
    DriverFactory,
    FleetFactory,
    MembershipFactory,
    StaffUserFactory,
    VehicleFactory,
)

UTC = dt.UTC


@pytest.fixture
def fleet(db):
    return FleetFactory(name="Fleet A")


@pytest.fixture
def manager_client(client, fleet):
    user = StaffUserFactory()
    MembershipFactory(user=user, fleet=fleet, role=MembershipRole.MANAGER)
    client.force_login(user)
    return client


def session_payload(fleet, driver, *, vehicle=None, token=None, connector=None) -> dict:
    return {
        "fleet": str(fleet.pk),
        "driver": str(driver.pk),
        "vehicle": str(vehicle.pk) if vehicle else "",
        "token": str(token.pk) if token else "",
        "connector": str(connector.pk) if connector else "",
        "location_kind": "depot",
        "purpose": "business",
        "started_at_0": "2026-03-02",
        "started_at_1": "08:00:00",
        "ended_at_0": "2026-03-02",
        "ended_at_1": "10:00:00",
        "meter_start_wh": "1000000",
        "meter_stop_wh": "1020500",
        "energy_wh": "20500",
        "status": "completed",
        "source": "manual",
        "external_id": "",
        "meter_values-TOTAL_FORMS": "0",
        "meter_values-INITIAL_FORMS": "0",
    }


def test_manager_edits_a_connector_inline_on_the_station_page(manager_client, fleet):
    station = ChargingStationFactory(fleet=fleet)
    connector = ConnectorFactory(station=station)
    payload = {
        "fleet": str(fleet.pk),
        "depot": str(station.depot_id),
        "ocpp_identity": station.ocpp_identity,
        "vendor": station.vendor,
        "model": station.model,
        "serial_number": station.serial_number,
        "firmware_version": "",
        "status": station.status,
        "connectors-TOTAL_FORMS": "1",
        "connectors-INITIAL_FORMS": "1",
        "connectors-0-id": str(connector.pk),
        "connectors-0-station": str(station.pk),
        "connectors-0-connector_id": "1",
        "connectors-0-standard": ConnectorStandard.IEC_62196_T2_COMBO,
        "connectors-0-power_type": PowerType.DC,
        "connectors-0-max_kw": "150.0",
    }

    response = manager_client.post(
        reverse("admin:charging_chargingstation_change", args=[station.pk]), payload
    )

    assert response.status_code == 302, response.context["inline_admin_formsets"]
    connector.refresh_from_db()
    assert (connector.standard, connector.power_type, connector.max_kw) == (
        ConnectorStandard.IEC_62196_T2_COMBO,
        PowerType.DC,
        Decimal("150.0"),
    )


def test_session_with_another_drivers_token_is_refused_and_saves_nothing(manager_client, fleet):
    driver = DriverFactory(fleet=fleet)
    someone_elses_token = ChargeTokenFactory(driver=DriverFactory(fleet=fleet))

    response = manager_client.post(
        reverse("admin:charging_chargingsession_add"),
        session_payload(fleet, driver, token=someone_elses_token),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "token": ["The token is another driver's."]
    }
    assert not ChargingSession.objects.exists()


def test_session_mixing_two_fleets_the_manager_edits_is_refused_and_saves_nothing(client, fleet):
    other_fleet = FleetFactory(name="Fleet B")
    user = StaffUserFactory()
    for managed in (fleet, other_fleet):
        MembershipFactory(user=user, fleet=managed, role=MembershipRole.MANAGER)
    client.force_login(user)
    driver = DriverFactory(fleet=fleet)
    other_vehicle = VehicleFactory(fleet=other_fleet)
    other_connector = ConnectorFactory(station=ChargingStationFactory(fleet=other_fleet))

    response = client.post(
        reverse("admin:charging_chargingsession_add"),
        session_payload(fleet, driver, vehicle=other_vehicle, connector=other_connector),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "vehicle": ["Belongs to another fleet."],
        "connector": ["Belongs to another fleet."],
    }
    assert not ChargingSession.objects.exists()


def test_manager_records_a_completed_session_by_hand(manager_client, fleet):
    driver = DriverFactory(fleet=fleet)
    token = ChargeTokenFactory(driver=driver)

    response = manager_client.post(
        reverse("admin:charging_chargingsession_add"),
        session_payload(fleet, driver, vehicle=VehicleFactory(fleet=fleet), token=token),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    session = ChargingSession.objects.get()
    assert (session.driver, session.token, session.energy_wh) == (driver, token, 20_500)
    assert session.started_at == dt.datetime(2026, 3, 2, 8, tzinfo=UTC)
