"""Reads scoped to a driver: their sessions, the connector and vehicle of their fleet they name,
and the token a session starts with."""

import datetime as dt

import pytest

from apps.charging.exceptions import OtherFleet, TokenNotValid, TokenUnknown
from apps.charging.selectors import (
    charge_token_get_for_start,
    charging_session_get_for_driver,
    charging_session_list_for_driver,
    connector_get_for_driver,
    vehicle_get_for_driver,
)
from apps.drivers.choices import TokenKind
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    ConnectorFactory,
    DriverFactory,
    FleetFactory,
    MeterValueFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MOMENT = dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def driver():
    return DriverFactory(fleet=FleetFactory())


class TestSessions:
    def test_a_driver_lists_only_their_own_sessions(self, driver):
        mine = ChargingSessionFactory(fleet=driver.fleet, driver=driver)
        ChargingSessionFactory(fleet=driver.fleet)

        assert list(charging_session_list_for_driver(driver_id=driver.pk)) == [mine]

    def test_a_session_comes_with_its_meter_readings_in_two_queries(
        self, driver, django_assert_num_queries
    ):
        session = ChargingSessionFactory(fleet=driver.fleet, driver=driver)
        value = MeterValueFactory(session=session)

        with django_assert_num_queries(2):
            found = charging_session_get_for_driver(driver_id=driver.pk, session_id=session.pk)
            assert list(found.meter_values.all()) == [value]

    def test_another_drivers_session_is_none(self, driver):
        other = ChargingSessionFactory(fleet=driver.fleet)

        assert charging_session_get_for_driver(driver_id=driver.pk, session_id=other.pk) is None


class TestConnectorAndVehicle:
    def test_a_connector_of_the_drivers_fleet_is_found(self, driver):
        connector = ConnectorFactory(station__fleet=driver.fleet)

        assert connector_get_for_driver(driver=driver, connector_id=connector.pk) == connector

    def test_another_fleets_connector_is_not_found(self, driver):
        connector = ConnectorFactory()

        with pytest.raises(OtherFleet) as refused:
            connector_get_for_driver(driver=driver, connector_id=connector.pk)

        assert (refused.value.field, refused.value.message) == (
            "connector",
            "No such connector in your fleet.",
        )

    def test_a_vehicle_is_found_in_the_drivers_fleet_only(self, driver):
        vehicle = VehicleFactory(fleet=driver.fleet)
        other = VehicleFactory()

        assert vehicle_get_for_driver(driver=driver, vehicle_id=vehicle.pk) == vehicle
        assert vehicle_get_for_driver(driver=driver, vehicle_id=None) is None
        with pytest.raises(OtherFleet) as refused:
            vehicle_get_for_driver(driver=driver, vehicle_id=other.pk)
        assert refused.value.field == "vehicle"


class TestStartToken:
    def test_the_apps_token_comes_before_a_card_and_a_newer_card_before_an_older(self, driver):
        ChargeTokenFactory(driver=driver, uid="CARD-OLD", valid_from=MOMENT - dt.timedelta(days=9))
        newer = ChargeTokenFactory(
            driver=driver, uid="CARD-NEW", valid_from=MOMENT - dt.timedelta(days=1)
        )
        app = ChargeTokenFactory(
            driver=driver,
            uid="APP",
            kind=TokenKind.APP_USER,
            valid_from=MOMENT - dt.timedelta(days=30),
        )

        assert charge_token_get_for_start(driver=driver, token_id=None, moment=MOMENT) == app
        app.is_active = False
        app.save()
        assert charge_token_get_for_start(driver=driver, token_id=None, moment=MOMENT) == newer

    def test_of_two_cards_valid_from_the_same_moment_the_one_issued_last_is_taken(self, driver):
        valid_from = MOMENT - dt.timedelta(days=1)
        ChargeTokenFactory(driver=driver, uid="CARD-1", valid_from=valid_from)
        issued_last = ChargeTokenFactory(driver=driver, uid="CARD-2", valid_from=valid_from)

        assert (
            charge_token_get_for_start(driver=driver, token_id=None, moment=MOMENT) == issued_last
        )

    def test_a_named_token_must_be_the_drivers(self, driver):
        mine = ChargeTokenFactory(driver=driver)
        theirs = ChargeTokenFactory(driver=DriverFactory(fleet=driver.fleet))

        assert charge_token_get_for_start(driver=driver, token_id=mine.pk, moment=MOMENT) == mine
        with pytest.raises(TokenUnknown):
            charge_token_get_for_start(driver=driver, token_id=theirs.pk, moment=MOMENT)

    def test_without_a_token_valid_at_the_moment_none_is_given(self, driver):
        ChargeTokenFactory(
            driver=driver,
            valid_from=MOMENT - dt.timedelta(days=9),
            valid_until=MOMENT,
        )
        ChargeTokenFactory(driver=driver, valid_from=MOMENT + dt.timedelta(seconds=1))

        with pytest.raises(TokenNotValid) as refused:
            charge_token_get_for_start(driver=driver, token_id=None, moment=MOMENT)

        assert refused.value.field == "token"
