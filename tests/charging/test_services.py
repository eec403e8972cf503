import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.charging.choices import (
    EnergySource,
    HomeApproval,
    LocationKind,
    PriceBasis,
    SessionPurpose,
    SessionSource,
    SessionStatus,
    UnpricedReason,
)
from apps.charging.exceptions import (
    ConnectorBusy,
    DriverAlreadyCharging,
    DriverNotActive,
    EndBeforeStart,
    HomeSessionNotPending,
    InvalidCorrection,
    InvalidHomeSession,
    InvalidTariff,
    MeterValueOutsideSession,
    MeterWentBackwards,
    OtherFleet,
    ProviderCostInvalid,
    PublicSessionNeedsCost,
    SessionAlreadyStopped,
    SessionBilled,
    SessionExists,
    SessionNotCorrectable,
    TokenNotValid,
    TokenUnknown,
    VehicleNotUsable,
)
from apps.charging.models import ChargingSession, MeterValue, Tariff, TariffElement, TariffVersion
from apps.charging.pricing import Price
from apps.charging.services import (
    MeterReading,
    charging_session_correct,
    charging_session_invalidate,
    charging_session_price,
    charging_session_record_meter_values,
    charging_session_save_by_manager,
    charging_session_set_purpose,
    charging_session_start,
    charging_session_stop,
    charging_sessions_price,
    home_session_report,
    home_session_review,
    tariff_publish,
)
from apps.drivers.choices import DriverStatus
from apps.drivers.models import Driver
from apps.vehicles.choices import VehicleStatus
from apps.vehicles.models import Vehicle
from tests.factories import (
    ChargeTokenFactory,
    ChargingSessionFactory,
    ConnectorFactory,
    CostCenterFactory,
    DriverFactory,
    FleetFactory,
    StaffUserFactory,
    VehicleAssignmentFactory,
    VehicleFactory,
)
from voltop.core.errors import FieldFixed, NotFound

pytestmark = pytest.mark.django_db

UTC = dt.UTC
START = dt.datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
CORRECTED_COLUMNS = {
    "started_at",
    "ended_at",
    "meter_start_wh",
    "meter_stop_wh",
    "energy_wh",
    "is_suspect",
    "suspect_reason",
    "updated_at",
}
PRICE_COLUMNS = {
    "tariff_version_id",
    "price_basis",
    "price_currency",
    "price_excl_vat",
    "price_vat",
    "price_incl_vat",
    "price_breakdown",
    "priced_at",
    "unpriced_reason",
}


@pytest.fixture
def depot():
    """A fleet with a connector, a driver with an RFID card and an assigned vehicle."""
    connector = ConnectorFactory()
    fleet = connector.station.fleet
    driver = DriverFactory(fleet=fleet)
    token = ChargeTokenFactory(driver=driver, uid="04AABBCC")
    assignment = VehicleAssignmentFactory(
        vehicle=VehicleFactory(fleet=fleet), driver=driver, starts_at=START - dt.timedelta(days=30)
    )
    return type(
        "Depot",
        (),
        {
            "fleet": fleet,
            "connector": connector,
            "driver": driver,
            "token": token,
            "vehicle": assignment.vehicle,
        },
    )


def start(depot, **overrides):
    values = {
        "started_at": START,
        "source": SessionSource.OCPP,
        "token_uid": depot.token.uid,
        "connector": depot.connector,
        "meter_start_wh": 1_000_000,
        "external_id": "tx-1",
    }
    values.update(overrides)
    return charging_session_start(**values)


def publish_flat_energy_tariff(fleet, *, price="0.30000", effective_from=None, **scope):
    tariff = Tariff.objects.create(
        fleet=fleet, name=f"Tariff {price}", ocpi_id=f"T-{price}", currency="EUR", **scope
    )
    TariffElement.objects.create(
        tariff=tariff,
        energy_price=Decimal(price),
        energy_vat_rate=Decimal("21"),
        flat_price=Decimal("0.50"),
        flat_vat_rate=Decimal("21"),
    )
    tariff_publish(tariff=tariff, effective_from=effective_from or START - dt.timedelta(days=1))
    return tariff


class TestStart:
    def test_a_token_on_a_connector_starts_a_depot_session_with_the_assigned_vehicle(self, depot):
        session = start(depot)

        assert session.status == SessionStatus.ACTIVE
        assert (session.fleet, session.driver, session.vehicle) == (
            depot.fleet,
            depot.driver,
            depot.vehicle,
        )
        assert (session.token, session.connector) == (depot.token, depot.connector)
        assert session.location_kind == LocationKind.DEPOT
        assert session.meter_start_wh == 1_000_000

    def test_a_session_keeps_the_cost_center_of_its_start(self, depot):
        driver_center = CostCenterFactory(fleet=depot.fleet)
        vehicle_center = CostCenterFactory(fleet=depot.fleet)
        Driver.objects.filter(pk=depot.driver.pk).update(cost_center=driver_center)
        Vehicle.objects.filter(pk=depot.vehicle.pk).update(cost_center=vehicle_center)

        session = start(depot)
        Driver.objects.filter(pk=depot.driver.pk).update(cost_center=None)

        session.refresh_from_db()
        assert session.cost_center == driver_center

    def test_a_driver_without_cost_center_books_the_session_to_the_vehicles(self, depot):
        vehicle_center = CostCenterFactory(fleet=depot.fleet)
        Driver.objects.filter(pk=depot.driver.pk).update(cost_center=None)
        Vehicle.objects.filter(pk=depot.vehicle.pk).update(cost_center=vehicle_center)

        assert start(depot).cost_center == vehicle_center

    def test_a_resent_start_returns_the_first_session(self, depot):
        first = start(depot)

        again = start(depot)

        assert again.pk == first.pk
        assert ChargingSession.objects.count() == 1

    def test_a_start_with_a_known_external_id_but_other_values_is_refused(self, depot):
        start(depot)

        with pytest.raises(SessionExists) as refused:
            start(depot, meter_start_wh=2_000_000)

        assert refused.value.field == "external_id"
        assert ChargingSession.objects.count() == 1

    @pytest.mark.parametrize(
        ("change_token", "error"),
        [
            (lambda token: token.delete(), TokenUnknown),
            (lambda token: setattr(token, "is_active", False) or token.save(), TokenNotValid),
            (
                lambda token: setattr(token, "valid_until", START) or token.save(),
                TokenNotValid,
            ),
            (
                lambda token: (
                    setattr(token, "valid_from", START + dt.timedelta(hours=1)) or token.save()
                ),
                TokenNotValid,
            ),
        ],
        ids=["unknown", "blocked", "expired", "not-yet-valid"],
    )
    def test_a_token_that_cannot_charge_is_refused_and_nothing_is_saved(
        self, depot, change_token, error
    ):
        change_token(depot.token)

        with pytest.raises(error) as refused:
            start(depot)

        assert refused.value.field == "token"
        assert not ChargingSession.objects.exists()

    def test_a_suspended_driver_is_refused(self, depot):
        depot.driver.status = DriverStatus.SUSPENDED
        depot.driver.save()

        with pytest.raises(DriverNotActive):
            start(depot)

        assert not ChargingSession.objects.exists()

    def test_a_given_vehicle_of_another_fleet_is_refused(self, depot):
        with pytest.raises(OtherFleet) as refused:
            start(depot, vehicle=VehicleFactory())

        assert refused.value.field == "vehicle"
        assert not ChargingSession.objects.exists()

    def test_a_retired_vehicle_is_refused(self, depot):
        depot.vehicle.status = VehicleStatus.RETIRED
        depot.vehicle.save()

        with pytest.raises(VehicleNotUsable):
            start(depot)

        assert not ChargingSession.objects.exists()

    def test_a_connector_of_another_fleet_is_refused(self, depot):
        with pytest.raises(OtherFleet) as refused:
            start(depot, connector=ConnectorFactory())

        assert refused.value.field == "connector"
        assert not ChargingSession.objects.exists()

    def test_a_busy_connector_is_refused(self, depot):
        start(depot)
        other = DriverFactory(fleet=depot.fleet)
        ChargeTokenFactory(driver=other, uid="04DDEEFF")

        with pytest.raises(ConnectorBusy) as refused:
            start(depot, token_uid="04DDEEFF", external_id="tx-2")

        assert refused.value.field == "connector"
        assert ChargingSession.objects.count() == 1

    def test_a_driver_has_one_active_depot_session_at_a_time(self, depot):
        start(depot)
        second_connector = ConnectorFactory(station=depot.connector.station, connector_id=2)

        with pytest.raises(DriverAlreadyCharging):
            start(depot, connector=second_connector, external_id="tx-2")

        assert ChargingSession.objects.count() == 1

    def test_a_naive_start_time_is_refused(self, depot):
        with pytest.raises(Exception, match="time zone") as refused:
            start(depot, started_at=dt.datetime(2026, 3, 2, 7))  # noqa: DTZ001

        assert refused.value.field == "started_at"
        assert not ChargingSession.objects.exists()


class TestMeterValuesAndStop:
    def test_readings_are_stored_and_a_resent_reading_changes_nothing(self, depot):
        session = start(depot)
        readings = [
            MeterReading(START + dt.timedelta(minutes=15), 1_002_500, 10_000, 40),
            MeterReading(START + dt.timedelta(minutes=30), 1_005_000, 10_000, 45),
        ]

        charging_session_record_meter_values(session=session, readings=readings)
        charging_session_record_meter_values(session=session, readings=readings[1:])

        assert list(session.meter_values.values_list("energy_wh", flat=True)) == [
            1_002_500,
            1_005_000,
        ]

    def test_a_batch_with_a_reading_going_backwards_is_refused_whole(self, depot):
        session = start(depot)
        readings = [
            MeterReading(START + dt.timedelta(minutes=15), 1_002_500),
            MeterReading(START + dt.timedelta(minutes=30), 1_001_000),
        ]

        with pytest.raises(MeterWentBackwards) as refused:
            charging_session_record_meter_values(session=session, readings=readings)

        assert refused.value.field == "energy_wh"
        assert not MeterValue.objects.exists()

    def test_a_reading_below_the_meter_start_is_refused(self, depot):
        session = start(depot)

        with pytest.raises(MeterWentBackwards):
            charging_session_record_meter_values(
                session=session,
                readings=[MeterReading(START + dt.timedelta(minutes=5), 999_000)],
            )

        assert not MeterValue.objects.exists()

    def test_a_reading_before_the_session_is_refused(self, depot):
        session = start(depot)

        with pytest.raises(MeterValueOutsideSession):
            charging_session_record_meter_values(
                session=session, readings=[MeterReading(START - dt.timedelta(minutes=1), 1_000_000)]
            )

        assert not MeterValue.objects.exists()

    def test_stop_sets_energy_and_prices_after_commit(
        self, depot, django_capture_on_commit_callbacks
    ):
        publish_flat_energy_tariff(depot.fleet)
        session = start(depot)

        with django_capture_on_commit_callbacks(execute=True):
            charging_session_stop(
                session=session,
                ended_at=START + dt.timedelta(hours=2),
                meter_stop_wh=1_020_000,
            )

        session.refresh_from_db()
        assert (session.status, session.energy_wh) == (SessionStatus.COMPLETED, 20_000)
        assert not session.is_suspect
        assert session.price_basis == PriceBasis.TARIFF
        assert (session.price_excl_vat, session.price_vat, session.price_incl_vat) == (
            Decimal("6.50"),
            Decimal("1.37"),
            Decimal("7.87"),
        )
        assert session.tariff_version.number == 1
        assert session.price_breakdown["ocpi"]["total_energy_cost"]["excl_vat"] == "6.00"

    def test_a_resent_stop_returns_the_session_unchanged(self, depot):
        session = start(depot)
        stopped = charging_session_stop(
            session=session, ended_at=START + dt.timedelta(hours=1), meter_stop_wh=1_010_000
        )

        again = charging_session_stop(
            session=session, ended_at=START + dt.timedelta(hours=1), meter_stop_wh=1_010_000
        )

        assert again.updated_at == stopped.updated_at
        assert again.energy_wh == 10_000

    def test_a_different_second_stop_is_refused_and_changes_nothing(self, depot):
        session = start(depot)
        charging_session_stop(
            session=session, ended_at=START + dt.timedelta(hours=1), meter_stop_wh=1_010_000
        )

        with pytest.raises(SessionAlreadyStopped):
            charging_session_stop(
                session=session, ended_at=START + dt.timedelta(hours=2), meter_stop_wh=1_020_000
            )

        session.refresh_from_db()
        assert (session.ended_at, session.energy_wh) == (START + dt.timedelta(hours=1), 10_000)

    def test_a_stop_below_the_meter_start_is_refused_and_the_session_stays_active(self, depot):
        session = start(depot)

        with pytest.raises(MeterWentBackwards) as refused:
            charging_session_stop(
                session=session, ended_at=START + dt.timedelta(hours=1), meter_stop_wh=999_999
            )

        assert refused.value.field == "meter_stop_wh"
        session.refresh_from_db()
        assert (session.status, session.ended_at, session.energy_wh) == (
            SessionStatus.ACTIVE,
            None,
            None,
        )

    def test_a_stop_below_the_last_reading_is_refused(self, depot):
        session = start(depot)
        charging_session_record_meter_values(
            session=session, readings=[MeterReading(START + dt.timedelta(minutes=30), 1_005_000)]
        )

        with pytest.raises(MeterWentBackwards):
            charging_session_stop(
                session=session, ended_at=START + dt.timedelta(hours=1), meter_stop_wh=1_004_000
            )

        session.refresh_from_db()
        assert session.status == SessionStatus.ACTIVE

    def test_an_end_before_the_start_is_refused(self, depot):
        session = start(depot)

        with pytest.raises(EndBeforeStart) as refused:
            charging_session_stop(
                session=session, ended_at=START - dt.timedelta(minutes=1), meter_stop_wh=1_000_100
            )

        assert refused.value.field == "ended_at"
        session.refresh_from_db()
        assert session.status == SessionStatus.ACTIVE

    def test_more_energy_than_the_connector_could_deliver_is_flagged_suspect(self, depot):
        session = start(depot)

        stopped = charging_session_stop(
            session=session, ended_at=START + dt.timedelta(hours=1), meter_stop_wh=1_030_000
        )

        assert stopped.is_suspect
        assert "11.0 kW" in stopped.suspect_reason
        assert stopped.status == SessionStatus.COMPLETED

    def test_more_energy_than_the_battery_holds_is_flagged_suspect(self, depot):
        session = start(depot)

        stopped = charging_session_stop(
            session=session, ended_at=START + dt.timedelta(hours=10), meter_stop_wh=1_090_000
        )

        assert stopped.is_suspect
        assert "77.0 kWh battery" in stopped.suspect_reason


class TestEnergyEnteredByAPerson:
    """Energy given as a number (the driver app's stop, a home claim, a manager) is marked as
    entered by a person, and flagged when it is 0 Wh or under 100 Wh an hour plugged in."""

    def test_a_chargers_meter_readings_are_measured_and_not_flagged_for_little_energy(self, depot):
        stopped = charging_session_stop(
            session=start(depot), ended_at=START + dt.timedelta(hours=2), meter_stop_wh=1_000_000
        )

        assert (stopped.energy_wh, stopped.energy_source) == (0, EnergySource.MEASURED)
        assert (stopped.is_suspect, stopped.suspect_reason) == (False, "")

    @pytest.mark.parametrize(
        ("energy_wh", "reason"),
        [
            (0, "0 Wh entered by a person for 120 min plugged in"),
            (199, "199 Wh entered by a person for 120 min plugged in is less than 100 Wh an hour"),
            (200, ""),
        ],
    )
    def test_energy_entered_at_a_stop_is_marked_and_flagged_when_too_little(
        self, depot, energy_wh, reason
    ):
        session = start(depot, source=SessionSource.APP, meter_start_wh=None, external_id="")

        stopped = charging_session_stop(
            session=session,
            ended_at=START + dt.timedelta(hours=2),
            meter_stop_wh=None,
            energy_wh=energy_wh,
        )

        stopped.refresh_from_db()
        assert (stopped.energy_wh, stopped.energy_source) == (energy_wh, EnergySource.ENTERED)
        assert (stopped.is_suspect, stopped.suspect_reason) == (bool(reason), reason)

    def test_a_home_claim_is_entered_by_a_person(self, depot):
        session = home_session_report(
            driver=depot.driver,
            started_at=START,
            ended_at=START + dt.timedelta(hours=10),
            energy_wh=500,
        )

        assert session.energy_source == EnergySource.ENTERED
        assert session.suspect_reason == (
            "500 Wh entered by a person for 600 min plugged in is less than 100 Wh an hour"
        )

    def test_a_correction_of_the_energy_makes_it_entered_and_one_of_times_alone_does_not(self):
        session = ChargingSessionFactory(meter_start_wh=None, meter_stop_wh=None)
        assert session.energy_source == EnergySource.MEASURED

        charging_session_correct(
            session=session,
            started_at=session.started_at - dt.timedelta(minutes=5),
            ended_at=session.ended_at,
            meter_start_wh=None,
            meter_stop_wh=None,
            energy_wh=session.energy_wh,
        )
        session.refresh_from_db()
        assert session.energy_source == EnergySource.MEASURED

        charging_session_correct(
            session=session,
            started_at=session.started_at,
            ended_at=session.ended_at,
            meter_start_wh=None,
            meter_stop_wh=None,
            energy_wh=0,
        )
        session.refresh_from_db()
        assert (session.energy_source, session.is_suspect) == (EnergySource.ENTERED, True)


class TestInvalidateAndCorrect:
    def test_invalidating_needs_a_reason(self):
        session = ChargingSessionFactory()

        with pytest.raises(SessionNotCorrectable) as refused:
            charging_session_invalidate(session=session, reason="  ")

        assert refused.value.field == "reason"
        session.refresh_from_db()
        assert session.status == SessionStatus.COMPLETED

    def test_an_invalidated_session_keeps_its_reason(self):
        session = charging_session_invalidate(
            session=ChargingSessionFactory(), reason="Charger test"
        )

        assert (session.status, session.invalid_reason) == (SessionStatus.INVALID, "Charger test")

    def test_a_billed_session_cannot_be_invalidated_or_corrected(self):
        session = ChargingSessionFactory(billed_at=START)

        with pytest.raises(SessionBilled):
            charging_session_invalidate(session=session, reason="late")
        with pytest.raises(SessionBilled):
            charging_session_correct(
                session=session,
                started_at=session.started_at,
                ended_at=session.ended_at,
                meter_start_wh=0,
                meter_stop_wh=1,
            )

        session.refresh_from_db()
        assert (session.status, session.energy_wh) == (SessionStatus.COMPLETED, 20_500)

    def test_a_correction_recomputes_energy_and_price(self, django_capture_on_commit_callbacks):
        session = ChargingSessionFactory()
        publish_flat_energy_tariff(session.fleet, effective_from=session.started_at)

        with django_capture_on_commit_callbacks(execute=True):
            charging_session_correct(
                session=session,
                started_at=session.started_at,
                ended_at=session.ended_at,
                meter_start_wh=1_000_000,
                meter_stop_wh=1_010_000,
                purpose=SessionPurpose.PRIVATE,
            )

        session.refresh_from_db()
        assert (session.energy_wh, session.purpose) == (10_000, SessionPurpose.PRIVATE)
        assert session.price_excl_vat == Decimal("3.50")

    def test_a_corrected_session_is_unpriced_until_priced_again(self):
        session = ChargingSessionFactory()
        publish_flat_energy_tariff(session.fleet, effective_from=session.started_at)
        session = charging_session_price(session=session)
        assert session.price_excl_vat == Decimal("6.65")

        corrected = charging_session_correct(
            session=session,
            started_at=session.started_at,
            ended_at=session.ended_at,
            meter_start_wh=1_000_000,
            meter_stop_wh=1_010_000,
        )

        corrected.refresh_from_db()
        assert (
            corrected.energy_wh,
            corrected.tariff_version,
            corrected.price_basis,
            corrected.price_incl_vat,
            corrected.priced_at,
        ) == (10_000, None, "", None, None)

    def test_a_providers_cost_stays_through_a_correction(self):
        session = ChargingSessionFactory(
            location_kind=LocationKind.PUBLIC,
            meter_start_wh=None,
            meter_stop_wh=None,
            price_basis=PriceBasis.PROVIDER,
            price_currency="EUR",
            price_excl_vat=Decimal("4.10"),
            price_vat=Decimal("0.86"),
            price_incl_vat=Decimal("4.96"),
            priced_at=START,
        )

        charging_session_correct(
            session=session,
            started_at=session.started_at,
            ended_at=session.ended_at,
            meter_start_wh=None,
            meter_stop_wh=None,
            energy_wh=12_000,
        )

        session.refresh_from_db()
        assert (session.energy_wh, session.price_basis, session.price_incl_vat) == (
            12_000,
            PriceBasis.PROVIDER,
            Decimal("4.96"),
        )

    @pytest.mark.parametrize(
        ("readings", "error", "field"),
        [
            (
                {"meter_start_wh": 0, "meter_stop_wh": 5, "energy_wh": 4},
                InvalidCorrection,
                "energy_wh",
            ),
            ({"meter_start_wh": None, "meter_stop_wh": None}, InvalidCorrection, "energy_wh"),
            ({"meter_start_wh": 10, "meter_stop_wh": None}, InvalidCorrection, "energy_wh"),
            (
                {"meter_start_wh": -1, "meter_stop_wh": None, "energy_wh": 5},
                InvalidCorrection,
                "meter_start_wh",
            ),
            (
                {"meter_start_wh": -5, "meter_stop_wh": -1},
                InvalidCorrection,
                "meter_start_wh",
            ),
            (
                {"meter_start_wh": None, "meter_stop_wh": -1, "energy_wh": 5},
                InvalidCorrection,
                "meter_stop_wh",
            ),
            (
                {"meter_start_wh": None, "meter_stop_wh": None, "energy_wh": -1},
                InvalidCorrection,
                "energy_wh",
            ),
            (
                {"meter_start_wh": 1_010_000, "meter_stop_wh": 1_000_000},
                MeterWentBackwards,
                "meter_stop_wh",
            ),
            (
                {"ended_at": dt.datetime(2026, 3, 10, 12, 6, tzinfo=UTC)},
                InvalidCorrection,
                "ended_at",
            ),
        ],
    )
    def test_a_correction_that_breaks_a_rule_names_its_field_and_changes_nothing(
        self, time_machine, readings, error, field
    ):
        time_machine.move_to(dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False)
        session = ChargingSessionFactory()
        before = ChargingSession.objects.values().get(pk=session.pk)
        values = {
            "started_at": session.started_at,
            "ended_at": session.ended_at,
            "meter_start_wh": 1_000_000,
            "meter_stop_wh": 1_010_000,
            **readings,
        }

        with pytest.raises(error) as refused:
            charging_session_correct(session=session, **values)

        assert refused.value.field == field
        assert ChargingSession.objects.values().get(pk=session.pk) == before

    @pytest.mark.parametrize(
        ("fields", "purpose", "written"),
        [
            ({}, None, {*CORRECTED_COLUMNS, "energy_source", *PRICE_COLUMNS}),
            (
                {
                    "location_kind": LocationKind.PUBLIC,
                    "price_basis": PriceBasis.PROVIDER,
                    "price_currency": "EUR",
                    "price_excl_vat": Decimal("4.10"),
                    "price_vat": Decimal("0.86"),
                    "price_incl_vat": Decimal("4.96"),
                    "priced_at": START,
                },
                SessionPurpose.PRIVATE,
                {*CORRECTED_COLUMNS, "energy_source", "purpose"},
            ),
        ],
        ids=["priced-by-tariff", "providers-cost-with-purpose"],
    )
    def test_a_correction_writes_only_the_columns_it_changes(self, fields, purpose, written):
        session = ChargingSessionFactory(**fields)

        with CaptureQueriesContext(connection) as queries:
            charging_session_correct(
                session=session,
                started_at=session.started_at,
                ended_at=session.ended_at,
                meter_start_wh=1_000_000,
                meter_stop_wh=1_010_000,
                purpose=purpose,
            )

        (update,) = (
            query["sql"]
            for query in queries.captured_queries
            if query["sql"].startswith('UPDATE "charging_chargingsession"')
        )
        set_clause = update.split(" SET ", 1)[1].rsplit(" WHERE ", 1)[0]
        assert set(re.findall(r'"(\w+)" = ', set_clause)) == written

    def test_an_active_session_cannot_be_corrected(self, depot):
        session = start(depot)

        with pytest.raises(SessionNotCorrectable):
            charging_session_correct(
                session=session,
                started_at=START,
                ended_at=START + dt.timedelta(hours=1),
                meter_start_wh=1_000_000,
                meter_stop_wh=1_001_000,
            )

        session.refresh_from_db()
        assert session.status == SessionStatus.ACTIVE


class TestPublicSessions:
    def test_a_driver_cannot_start_a_public_session_in_the_app_and_nothing_is_made(self, depot):
        with pytest.raises(PublicSessionNeedsCost) as refused:
            charging_session_start(
                started_at=START, source=SessionSource.APP, driver=depot.driver, connector=None
            )

        assert refused.value.field == "location_kind"
        assert not ChargingSession.objects.exists()

    def test_a_card_cannot_start_a_public_session_either(self, depot):
        with pytest.raises(PublicSessionNeedsCost):
            start(depot, connector=None, location_kind=LocationKind.PUBLIC)

        assert not ChargingSession.objects.exists()

    def test_a_manager_records_a_public_session_without_the_cost_as_cost_pending(
        self, depot, django_capture_on_commit_callbacks
    ):
        publish_flat_energy_tariff(depot.fleet)
        session = ChargingSessionFactory.build(
            fleet=depot.fleet,
            driver=depot.driver,
            vehicle=depot.vehicle,
            location_kind=LocationKind.PUBLIC,
        )

        with django_capture_on_commit_callbacks(execute=True):
            charging_session_save_by_manager(session=session)

        session.refresh_from_db()
        assert (session.price_basis, session.price_incl_vat, session.unpriced_reason) == (
            "",
            None,
            UnpricedReason.COST_PENDING,
        )

    def test_a_manager_records_a_public_session_at_the_providers_cost(
        self, depot, django_capture_on_commit_callbacks
    ):
        session = ChargingSessionFactory.build(
            fleet=depot.fleet,
            driver=depot.driver,
            vehicle=depot.vehicle,
            location_kind=LocationKind.PUBLIC,
        )

        with django_capture_on_commit_callbacks(execute=True):
            charging_session_save_by_manager(
                session=session, provider_cost=Price(Decimal("9.50"), Decimal("11.50"))
            )

        session.refresh_from_db()
        assert (
            session.price_basis,
            session.price_currency,
            session.price_excl_vat,
            session.price_vat,
            session.price_incl_vat,
            session.unpriced_reason,
        ) == (PriceBasis.PROVIDER, "EUR", Decimal("9.50"), Decimal("2.00"), Decimal("11.50"), "")
        assert session.priced_at is not None

    def test_the_cost_given_later_ends_the_wait(self, depot):
        session = ChargingSessionFactory.build(
            fleet=depot.fleet,
            driver=depot.driver,
            vehicle=depot.vehicle,
            location_kind=LocationKind.PUBLIC,
        )
        charging_session_save_by_manager(session=session)

        charging_session_save_by_manager(session=session, provider_cost=Price(Decimal("4.00")))

        session.refresh_from_db()
        assert (session.price_excl_vat, session.price_incl_vat, session.unpriced_reason) == (
            Decimal("4.00"),
            Decimal("4.00"),
            "",
        )

    def test_moving_a_session_to_another_fleet_is_refused_and_changes_nothing(self, depot):
        session = ChargingSessionFactory(
            fleet=depot.fleet, driver=depot.driver, location_kind=LocationKind.PUBLIC
        )
        before = list(ChargingSession.objects.values_list("pk", "fleet_id", "energy_wh"))
        session.fleet = FleetFactory()
        session.energy_wh += 1

        with pytest.raises(FieldFixed) as refused:
            charging_session_save_by_manager(session=session)

        assert (refused.value.field, refused.value.message) == (
            "fleet",
            "A charging session stays in the fleet it was recorded in; its fleet cannot be "
            "changed.",
        )
        assert list(ChargingSession.objects.values_list("pk", "fleet_id", "energy_wh")) == before

    def test_an_imported_providers_cost_stays_when_the_manager_gives_none(self, depot):
        session = ChargingSessionFactory(
            fleet=depot.fleet,
            driver=depot.driver,
            location_kind=LocationKind.PUBLIC,
            price_basis=PriceBasis.PROVIDER,
            price_currency="EUR",
            price_excl_vat=Decimal("4.10"),
            price_vat=Decimal("0.86"),
            price_incl_vat=Decimal("4.96"),
            priced_at=START,
        )
        session.purpose = SessionPurpose.PRIVATE

        charging_session_save_by_manager(session=session)

        session.refresh_from_db()
        assert (session.purpose, session.price_incl_vat, session.unpriced_reason) == (
            SessionPurpose.PRIVATE,
            Decimal("4.96"),
            "",
        )

    @pytest.mark.parametrize(
        ("fields", "cost", "field"),
        [
            ({}, Price(Decimal("4.00")), "provider_cost_excl_vat"),
            (
                {"location_kind": LocationKind.PUBLIC, "active": True},
                Price(Decimal("4.00")),
                "provider_cost_excl_vat",
            ),
            (
                {"location_kind": LocationKind.PUBLIC},
                Price(Decimal("-0.01")),
                "provider_cost_excl_vat",
            ),
            (
                {"location_kind": LocationKind.PUBLIC},
                Price(Decimal("4.00"), Decimal("3.99")),
                "provider_cost_incl_vat",
            ),
            (
                {"location_kind": LocationKind.PUBLIC},
                Price(Decimal("4.005")),
                "provider_cost_excl_vat",
            ),
        ],
        ids=["depot-session", "active", "negative", "incl-below-excl", "part-of-a-cent"],
    )
    def test_a_providers_cost_that_breaks_a_rule_is_refused_and_nothing_is_saved(
        self, depot, fields, cost, field
    ):
        session = ChargingSessionFactory.build(
            fleet=depot.fleet, driver=depot.driver, vehicle=depot.vehicle, **fields
        )

        with pytest.raises(ProviderCostInvalid) as refused:
            charging_session_save_by_manager(session=session, provider_cost=cost)

        assert refused.value.field == field
        assert not ChargingSession.objects.exists()


class TestHomeCharging:
    @pytest.fixture(autouse=True)
    def _now(self, time_machine):
        time_machine.move_to(dt.datetime(2026, 3, 10, 12, tzinfo=UTC), tick=False)

    def report(self, driver, **overrides):
        values = {
            "driver": driver,
            "started_at": dt.datetime(2026, 3, 9, 19, tzinfo=UTC),
            "ended_at": dt.datetime(2026, 3, 9, 23, tzinfo=UTC),
            "energy_wh": 10_000,
        }
        values.update(overrides)
        return home_session_report(**values)

    def test_a_home_session_waits_for_approval_priced_at_the_home_rate(
        self, django_capture_on_commit_callbacks
    ):
        driver = DriverFactory(home_rate_per_kwh=Decimal("0.25000"))

        with django_capture_on_commit_callbacks(execute=True):
            session = self.report(driver)

        session.refresh_from_db()
        assert session.location_kind == LocationKind.HOME
        assert session.home_approval == HomeApproval.PENDING
        assert session.price_basis == PriceBasis.HOME_RATE
        assert (session.price_excl_vat, session.price_incl_vat) == (
            Decimal("2.50"),
            Decimal("2.50"),
        )

    def test_meter_readings_give_the_energy(self):
        session = self.report(
            DriverFactory(), energy_wh=None, meter_start_wh=5_000, meter_stop_wh=12_500
        )

        assert session.energy_wh == 7_500

    @pytest.mark.parametrize(
        ("overrides", "error", "field"),
        [
            (
                {"ended_at": dt.datetime(2026, 3, 9, 18, tzinfo=UTC)},
                EndBeforeStart,
                "ended_at",
            ),
            ({"energy_wh": None}, InvalidHomeSession, "energy_wh"),
            ({"energy_wh": 0}, InvalidHomeSession, "energy_wh"),
            (
                {"energy_wh": None, "meter_start_wh": 10, "meter_stop_wh": 5},
                MeterWentBackwards,
                "meter_stop_wh",
            ),
            ({"meter_start_wh": 10}, InvalidHomeSession, "meter_stop_wh"),
            (
                {
                    "started_at": dt.datetime(2026, 3, 10, 13, tzinfo=UTC),
                    "ended_at": dt.datetime(2026, 3, 10, 15, tzinfo=UTC),
                },
                InvalidHomeSession,
                "ended_at",
            ),
        ],
        ids=[
            "end-before-start",
            "no-energy",
            "zero-energy",
            "meter-backwards",
            "one-meter",
            "future",
        ],
    )
    def test_bad_home_claims_are_refused_and_nothing_is_saved(self, overrides, error, field):
        with pytest.raises(error) as refused:
            self.report(DriverFactory(), **overrides)

        assert refused.value.field == field
        assert not ChargingSession.objects.exists()

    def test_an_overlapping_home_claim_is_refused(self):
        driver = DriverFactory()
        self.report(driver)

        with pytest.raises(InvalidHomeSession) as refused:
            self.report(driver, started_at=dt.datetime(2026, 3, 9, 22, tzinfo=UTC))

        assert refused.value.field == "started_at"
        assert ChargingSession.objects.count() == 1

    def test_a_manager_approves_once(self):
        session = self.report(DriverFactory())
        manager = StaffUserFactory()

        approved = home_session_review(session=session, approve=True, reviewer=manager)

        assert (approved.home_approval, approved.reviewed_by) == (HomeApproval.APPROVED, manager)
        with pytest.raises(HomeSessionNotPending):
            home_session_review(session=session, approve=False, reviewer=manager, reason="x")
        session.refresh_from_db()
        assert session.home_approval == HomeApproval.APPROVED

    def test_a_rejection_needs_a_reason(self):
        session = self.report(DriverFactory())

        with pytest.raises(InvalidHomeSession):
            home_session_review(session=session, approve=False, reviewer=StaffUserFactory())

        session.refresh_from_db()
        assert session.home_approval == HomeApproval.PENDING


class TestTariffsAndPricing:
    def test_publishing_freezes_the_tariff_as_ocpi_json(self):
        fleet = FleetFactory()
        tariff = publish_flat_energy_tariff(fleet)

        version = tariff.versions.get()

        assert version.number == 1
        assert version.terms["currency"] == "EUR"
        assert version.terms["elements"][0]["price_components"] == [
            {"type": "FLAT", "price": 0.5, "vat": 21, "step_size": 1},
            {"type": "ENERGY", "price": 0.3, "vat": 21, "step_size": 1},
        ]

    def test_publishing_the_same_terms_at_the_same_moment_makes_no_new_version(self):
        tariff = publish_flat_energy_tariff(FleetFactory())
        version = tariff.versions.get()

        again = tariff_publish(tariff=tariff, effective_from=version.effective_from)

        assert again.pk == version.pk
        assert tariff.versions.count() == 1

    def test_a_tariff_without_elements_cannot_be_published(self):
        tariff = Tariff.objects.create(
            fleet=FleetFactory(), name="Empty", ocpi_id="E", currency="EUR"
        )

        with pytest.raises(InvalidTariff):
            tariff_publish(tariff=tariff)

        assert not TariffVersion.objects.exists()

    def test_editing_a_tariff_never_changes_an_already_priced_session(self):
        session = ChargingSessionFactory()
        tariff = publish_flat_energy_tariff(session.fleet)
        charging_session_price(session=session)
        element = tariff.elements.get()
        element.energy_price = Decimal("0.90")
        element.save()

        tariff_publish(tariff=tariff)
        charging_session_price(session=session)

        session.refresh_from_db()
        assert session.tariff_version.number == 1
        assert session.price_excl_vat == Decimal("6.65")

    def test_a_backdated_version_corrects_the_price_of_an_unbilled_session(self):
        session = ChargingSessionFactory()
        tariff = publish_flat_energy_tariff(session.fleet)
        charging_session_price(session=session)
        element = tariff.elements.get()
        element.energy_price = Decimal("0.20")
        element.save()

        tariff_publish(tariff=tariff, effective_from=session.started_at - dt.timedelta(hours=1))
        charging_session_price(session=session)

        session.refresh_from_db()
        assert session.tariff_version.number == 2
        assert session.price_excl_vat == Decimal("4.60")

    def test_the_most_specific_tariff_wins(self, depot):
        publish_flat_energy_tariff(depot.fleet, price="0.30000")
        publish_flat_energy_tariff(depot.fleet, price="0.10000", station=depot.connector.station)
        session = start(depot)
        session = charging_session_stop(
            session=session, ended_at=START + dt.timedelta(hours=1), meter_stop_wh=1_010_000
        )

        priced = charging_session_price(session=session)

        assert priced.price_excl_vat == Decimal("1.50")

    def test_pricing_again_gives_the_same_result(self):
        session = ChargingSessionFactory()
        publish_flat_energy_tariff(session.fleet)

        first = charging_session_price(session=session)
        breakdown, total = first.price_breakdown, first.price_incl_vat
        second = charging_session_price(session=session)

        assert (second.price_breakdown, second.price_incl_vat) == (breakdown, total)

    def test_a_billed_session_is_not_priced_again(self):
        session = ChargingSessionFactory(billed_at=START)
        publish_flat_energy_tariff(session.fleet)

        with pytest.raises(SessionBilled):
            charging_session_price(session=session)

        session.refresh_from_db()
        assert session.price_excl_vat is None

    def test_sessions_priced_together_are_each_priced_and_a_billed_one_is_left_as_it_is(self):
        billed = ChargingSessionFactory(billed_at=START)
        publish_flat_energy_tariff(billed.fleet)
        unbilled = [ChargingSessionFactory(fleet=billed.fleet) for _ in range(2)]

        priced = charging_sessions_price(session_ids=[unbilled[1].pk, billed.pk, unbilled[0].pk])

        assert priced == 2
        assert (
            list(
                ChargingSession.objects.filter(pk__in=[s.pk for s in unbilled]).values_list(
                    "price_excl_vat", flat=True
                )
            )
            == [Decimal("6.65")] * 2
        )
        billed.refresh_from_db()
        assert billed.price_excl_vat is None

    def test_without_a_tariff_a_session_stays_unpriced(self):
        session = ChargingSessionFactory()

        priced = charging_session_price(session=session)

        assert (priced.price_excl_vat, priced.price_basis) == (None, "")

    def test_without_a_tariff_a_session_records_that_no_tariff_applies(self):
        session = ChargingSessionFactory()

        charging_session_price(session=session)

        session.refresh_from_db()
        assert (session.price_incl_vat, session.unpriced_reason) == (
            None,
            UnpricedReason.NO_TARIFF,
        )

    def test_a_public_session_without_a_providers_cost_is_not_priced_with_the_depot_tariff(self):
        session = ChargingSessionFactory(location_kind=LocationKind.PUBLIC, connector=None)
        publish_flat_energy_tariff(session.fleet)

        priced = charging_session_price(session=session)

        assert (priced.price_basis, priced.price_excl_vat, priced.tariff_version) == (
            "",
            None,
            None,
        )

    def test_a_public_session_without_a_providers_cost_records_its_cost_as_pending(self):
        session = ChargingSessionFactory(location_kind=LocationKind.PUBLIC, connector=None)

        charging_session_price(session=session)

        session.refresh_from_db()
        assert (session.price_incl_vat, session.unpriced_reason) == (
            None,
            UnpricedReason.COST_PENDING,
        )

    def test_a_tariff_version_in_another_currency_prices_nothing_and_says_so(self):
        session = ChargingSessionFactory()
        tariff = publish_flat_energy_tariff(session.fleet)
        version = tariff.versions.get()
        version.terms = {**version.terms, "currency": "USD"}
        version.save(update_fields=["terms"])

        charging_session_price(session=session)

        session.refresh_from_db()
        assert (session.price_incl_vat, session.price_currency, session.unpriced_reason) == (
            None,
            "",
            UnpricedReason.TARIFF_CURRENCY,
        )

    def test_a_price_found_later_clears_the_reason(self):
        session = ChargingSessionFactory()
        charging_session_price(session=session)
        publish_flat_energy_tariff(session.fleet)

        charging_session_price(session=session)

        session.refresh_from_db()
        assert (session.price_excl_vat, session.unpriced_reason) == (Decimal("6.65"), "")

    def test_a_priced_session_whose_tariff_is_gone_keeps_its_price_and_no_reason(self):
        session = ChargingSessionFactory()
        tariff = publish_flat_energy_tariff(session.fleet)
        charging_session_price(session=session)
        Tariff.objects.filter(pk=tariff.pk).update(is_active=False)

        charging_session_price(session=session)

        session.refresh_from_db()
        assert (session.price_excl_vat, session.unpriced_reason) == (Decimal("6.65"), "")

    def test_a_connector_tariff_beats_the_station_depot_and_fleet_tariffs(self, depot):
        station = depot.connector.station
        publish_flat_energy_tariff(depot.fleet, price="0.30000")
        publish_flat_energy_tariff(depot.fleet, price="0.20000", depot=station.depot)
        publish_flat_energy_tariff(depot.fleet, price="0.10000", station=station)
        publish_flat_energy_tariff(depot.fleet, price="0.05000", connector=depot.connector)
        session = charging_session_stop(
            session=start(depot), ended_at=START + dt.timedelta(hours=1), meter_stop_wh=1_010_000
        )

        priced = charging_session_price(session=session)

        assert priced.price_excl_vat == Decimal("1.00")
        assert priced.tariff_version.tariff.connector == depot.connector


class TestSetPurpose:
    def test_the_driver_makes_a_completed_session_private(self):
        session = ChargingSessionFactory(price_excl_vat=Decimal("6.65"))

        changed = charging_session_set_purpose(
            session=session, driver=session.driver, purpose=SessionPurpose.PRIVATE
        )

        session.refresh_from_db()
        assert changed.purpose == session.purpose == SessionPurpose.PRIVATE
        assert session.price_excl_vat == Decimal("6.65")

    def test_setting_the_same_purpose_again_changes_nothing(self):
        session = ChargingSessionFactory(purpose=SessionPurpose.PRIVATE)
        updated_at = session.updated_at

        charging_session_set_purpose(
            session=session, driver=session.driver, purpose=SessionPurpose.PRIVATE
        )

        session.refresh_from_db()
        assert (session.purpose, session.updated_at) == (SessionPurpose.PRIVATE, updated_at)

    def test_a_billed_session_keeps_its_purpose(self):
        session = ChargingSessionFactory(billed_at=START)

        with pytest.raises(SessionBilled) as refused:
            charging_session_set_purpose(
                session=session, driver=session.driver, purpose=SessionPurpose.PRIVATE
            )

        assert refused.value.field == "session"
        session.refresh_from_db()
        assert session.purpose == SessionPurpose.BUSINESS

    def test_another_drivers_session_is_not_found_and_unchanged(self):
        session = ChargingSessionFactory()
        colleague = DriverFactory(fleet=session.fleet)

        with pytest.raises(NotFound) as refused:
            charging_session_set_purpose(
                session=session, driver=colleague, purpose=SessionPurpose.PRIVATE
            )

        assert refused.value.field == "session"
        session.refresh_from_db()
        assert session.purpose == SessionPurpose.BUSINESS

    @pytest.mark.parametrize("status", [SessionStatus.ACTIVE, SessionStatus.INVALID])
    def test_a_session_that_is_not_completed_keeps_its_purpose(self, status):
        session = ChargingSessionFactory(active=status == SessionStatus.ACTIVE, status=status)

        with pytest.raises(SessionNotCorrectable):
            charging_session_set_purpose(
                session=session, driver=session.driver, purpose=SessionPurpose.PRIVATE
            )

        session.refresh_from_db()
        assert session.purpose == SessionPurpose.BUSINESS
