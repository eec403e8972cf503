"""`manage.py seed_demo`: the demo fleet's shape and validity, idempotence, and load-test fleets."""

import io
import re
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import F
from django.test import override_settings
from django.utils import timezone

from apps.charging.choices import SessionSource, SessionStatus
from apps.charging.models import ChargingSession, ChargingStation, Connector, MeterValue
from apps.drivers.choices import DriverStatus
from apps.drivers.models import ChargeToken, Driver
from apps.fleets.choices import MembershipRole
from apps.fleets.demo_data import (
    DEMO_FINANCE_EMAIL,
    DEMO_MANAGER_EMAIL,
    DEMO_PASSWORD,
    EV_MODELS,
    dutch_iban,
    seed_window,
    vin_build,
)
from apps.fleets.models import CostCenter, Depot, Fleet, Membership
from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment
from apps.vehicles.validators import validate_vin

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def demo_fingerprint() -> list[tuple]:
    """What the demo data looks like, without ids or creation times."""
    sessions = ChargingSession.objects.filter(fleet__slug="demo").order_by("started_at")
    return [
        *Vehicle.objects.filter(fleet__slug="demo").order_by("vin").values_list("vin", "plate"),
        *Driver.objects.filter(fleet__slug="demo").order_by("email").values_list("email", "iban"),
        *sessions.values_list("started_at", "ended_at", "energy_wh", "external_id"),
    ]


def seed_quietly(*arguments: str) -> str:
    output = io.StringIO()
    call_command("seed_demo", *arguments, stdout=output)
    return output.getvalue()


@dataclass(frozen=True)
class BuiltDemo:
    fleet: Fleet
    output: str


@pytest.fixture(scope="class")
def built_demo(django_db_setup, django_db_blocker):
    """The demo fleet, built once for the class inside a transaction rolled back afterwards."""
    with (
        django_db_blocker.unblock(),
        override_settings(DEBUG=True, PASSWORD_HASHERS=FAST_HASHER),
        transaction.atomic(),
    ):
        output = seed_quietly()
        yield BuiltDemo(fleet=Fleet.objects.get(slug="demo"), output=output)
        transaction.set_rollback(True)


@pytest.fixture
def demo_fleet(built_demo):
    return built_demo.fleet


@pytest.mark.django_db
@pytest.mark.usefixtures("built_demo")
class TestDemoFleet:
    def test_has_two_depots_twenty_vehicles_thirty_drivers_and_ten_stations(self, demo_fleet):
        assert Depot.objects.filter(fleet=demo_fleet).count() == 2
        assert Vehicle.objects.filter(fleet=demo_fleet).count() == 20
        assert Driver.objects.filter(fleet=demo_fleet).count() == 30
        assert ChargingStation.objects.filter(fleet=demo_fleet).count() == 10
        assert ChargeToken.objects.filter(driver__fleet=demo_fleet, kind="RFID").count() == 30
        assert CostCenter.objects.filter(fleet=demo_fleet).count() == 5
        assert Connector.objects.filter(station__fleet=demo_fleet).count() == 17
        assert OdometerReading.objects.filter(vehicle__fleet=demo_fleet).count() > 20 * 13

    def test_most_drivers_have_a_vehicle_and_assignments_never_overlap(self, demo_fleet):
        assignments = VehicleAssignment.objects.filter(vehicle__fleet=demo_fleet)
        assert assignments.values("driver").distinct().count() == 26
        assert assignments.filter(ends_at__isnull=True).count() == 20
        for vehicle in Vehicle.objects.filter(fleet=demo_fleet):
            periods = list(vehicle.assignments.order_by("starts_at"))
            for earlier, later in pairwise(periods):
                assert earlier.ends_at is not None
                assert earlier.ends_at <= later.starts_at

    def test_sessions_span_the_three_months_up_to_today_and_are_completed(self, demo_fleet):
        window_start, anchor = seed_window(zoneinfo.ZoneInfo("Europe/Amsterdam"))
        sessions = ChargingSession.objects.filter(fleet=demo_fleet)

        first = sessions.order_by("started_at").first()
        last = sessions.order_by("-ended_at").first()

        assert sessions.count() > 1_000
        assert window_start <= first.started_at < window_start + timedelta(days=2)
        assert anchor - timedelta(days=2) < last.ended_at <= anchor <= timezone.now()
        assert not sessions.exclude(status=SessionStatus.COMPLETED).exists()
        kinds = set(sessions.values_list("location_kind", "purpose", "source").distinct())
        assert {kind for kind, _, _ in kinds} == {"depot", "home", "public"}
        assert {purpose for _, purpose, _ in kinds} == {"business", "private"}
        assert {source for _, _, source in kinds} == set(SessionSource.values)

    def test_every_row_but_sessions_and_a_sample_of_sessions_pass_full_clean(self, demo_fleet):
        rows = [
            *Depot.objects.filter(fleet=demo_fleet),
            *CostCenter.objects.filter(fleet=demo_fleet),
            *Driver.objects.filter(fleet=demo_fleet),
            *ChargeToken.objects.filter(driver__fleet=demo_fleet),
            *Vehicle.objects.filter(fleet=demo_fleet),
            *VehicleAssignment.objects.filter(vehicle__fleet=demo_fleet),
            *ChargingStation.objects.filter(fleet=demo_fleet),
            *Connector.objects.filter(station__fleet=demo_fleet),
            *ChargingSession.objects.filter(fleet=demo_fleet).order_by("?")[:40],
            *MeterValue.objects.filter(session__fleet=demo_fleet).order_by("?")[:40],
        ]
        for row in rows:
            row.full_clean()
        for vehicle in Vehicle.objects.filter(fleet=demo_fleet):
            validate_vin(vehicle.vin)
            assert len(vehicle.vin) == 17
            assert not set(vehicle.vin) & set("IOQ")

    def test_vehicles_are_real_models_with_their_published_battery(self, demo_fleet):
        id4 = Vehicle.objects.filter(fleet=demo_fleet, make="Volkswagen", model="ID.4 Pro")
        assert id4.count() == 3
        assert set(id4.values_list("usable_battery_kwh", "max_ac_kw", "max_dc_kw")) == {
            (Decimal("77.0"), Decimal("11.0"), Decimal("135.0"))
        }
        makes = set(Vehicle.objects.filter(fleet=demo_fleet).values_list("make", flat=True))
        assert {"Tesla", "Kia", "Renault", "Hyundai", "Skoda", "Nissan"} <= makes

    def test_sessions_follow_the_assignments_and_fit_the_battery(self, demo_fleet):
        periods = defaultdict(list)
        for vehicle_id, *period in VehicleAssignment.objects.filter(
            vehicle__fleet=demo_fleet
        ).values_list("vehicle", "driver", "starts_at", "ends_at"):
            periods[vehicle_id].append(period)
        sessions = ChargingSession.objects.filter(fleet=demo_fleet)
        in_order = list(
            sessions.order_by("vehicle", "started_at").values_list(
                "vehicle", "driver", "started_at", "ended_at"
            )
        )

        for vehicle_id, driver_id, started_at, ended_at in in_order:
            assert any(
                driver_id == assigned
                and starts_at <= started_at
                and (ends_at or ended_at) >= ended_at
                for assigned, starts_at, ends_at in periods[vehicle_id]
            )
        for (vehicle_id, _, _, ended_at), (next_vehicle_id, _, started_at, _) in pairwise(in_order):
            assert vehicle_id != next_vehicle_id or ended_at <= started_at
        assert not sessions.filter(energy_wh__gt=F("vehicle__usable_battery_kwh") * 1000).exists()

    def test_connector_registers_only_rise_and_sessions_never_share_a_connector(self, demo_fleet):
        in_order = list(
            ChargingSession.objects.filter(fleet=demo_fleet, connector__isnull=False)
            .order_by("connector", "started_at")
            .values_list("connector", "started_at", "ended_at", "meter_start_wh", "meter_stop_wh")
        )

        assert min(meter_start for _, _, _, meter_start, _ in in_order) > 1_000_000
        for earlier, later in pairwise(in_order):
            if earlier[0] == later[0]:
                assert earlier[2] <= later[1]
                assert earlier[4] <= later[3]

    def test_meter_values_rise_every_quarter_hour_to_the_meter_stop(self, demo_fleet):
        metered = ChargingSession.objects.filter(
            fleet=demo_fleet, meter_start_wh__isnull=False
        ).order_by("?")[:40]
        for session in metered:
            values = list(session.meter_values.order_by("measured_at"))
            assert values[0].measured_at == session.started_at
            assert values[0].energy_wh == session.meter_start_wh
            assert values[-1].measured_at == session.ended_at
            assert values[-1].energy_wh == session.meter_stop_wh
            for earlier, later in pairwise(values):
                assert earlier.energy_wh <= later.energy_wh
                assert later.measured_at - earlier.measured_at <= timedelta(minutes=15)
            assert all(0 <= value.state_of_charge_percent <= 100 for value in values)
        assert not MeterValue.objects.filter(
            session__fleet=demo_fleet, session__source=SessionSource.MANUAL
        ).exists()

    def test_logins_share_the_demo_password_and_staff_hold_their_roles(self, demo_fleet):
        users = get_user_model().objects
        manager = users.get(username=DEMO_MANAGER_EMAIL)
        finance = users.get(username=DEMO_FINANCE_EMAIL)
        driver = Driver.objects.filter(fleet=demo_fleet, status=DriverStatus.ACTIVE).first()

        assert manager.is_staff
        assert finance.is_staff
        assert Membership.objects.get(user=manager, fleet=demo_fleet).role == MembershipRole.MANAGER
        assert Membership.objects.get(user=finance, fleet=demo_fleet).role == MembershipRole.FINANCE
        assert driver.user.username == driver.email
        assert driver.user.check_password(DEMO_PASSWORD)
        assert manager.check_password(DEMO_PASSWORD)
        assert Driver.objects.filter(fleet=demo_fleet, user__isnull=True).count() == 0
        assert len(set(users.filter(driver__fleet=demo_fleet).values_list("password"))) == 1

    def test_build_prints_the_rows_it_made_and_the_logins_for_local_use(self, built_demo):
        assert "Built fleet(s) demo in" in built_demo.output
        assert re.search(r"^  Vehicle +20$", built_demo.output, re.MULTILINE)
        assert f"password '{DEMO_PASSWORD}'" in built_demo.output
        assert DEMO_MANAGER_EMAIL in built_demo.output
        assert DEMO_FINANCE_EMAIL in built_demo.output

    def test_second_run_changes_no_row_of_any_model(self):
        before = row_counts()

        with override_settings(DEBUG=True):
            output = seed_quietly()

        assert row_counts() == before
        assert "Fleet 'demo' is present; left unchanged." in output
        assert DEMO_MANAGER_EMAIL in output


@pytest.mark.django_db
def test_demo_fleet_is_the_same_on_every_build_of_a_day(settings):
    settings.DEBUG = True
    settings.PASSWORD_HASHERS = FAST_HASHER
    with transaction.atomic():
        seed_quietly()
        first_build = demo_fingerprint()
        transaction.set_rollback(True)
    assert not Fleet.objects.exists()

    seed_quietly()

    assert demo_fingerprint() == first_build


@pytest.mark.django_db
def test_demo_is_refused_outside_debug_and_writes_nothing(settings):
    settings.DEBUG = False
    before = row_counts()

    with pytest.raises(CommandError, match="DEBUG=true"):
        call_command("seed_demo")

    assert row_counts() == before


@pytest.mark.django_db
def test_load_fleets_share_the_sessions_and_one_driver_per_hundred():
    output = seed_quietly("--sessions", "500", "--fleets", "2")

    fleets = Fleet.objects.filter(slug__in=["load-1", "load-2"])
    sessions = ChargingSession.objects.filter(fleet__in=fleets)
    assert fleets.count() == 2
    assert sessions.count() == 500
    assert sessions.filter(fleet__slug="load-1").count() == 250
    assert Driver.objects.filter(fleet__in=fleets).count() == 5
    assert Vehicle.objects.filter(fleet__in=fleets).count() == 5
    assert VehicleAssignment.objects.filter(vehicle__fleet__in=fleets).count() == 5
    assert ChargeToken.objects.filter(driver__fleet__in=fleets, is_active=True).count() == 5
    assert not MeterValue.objects.exists()
    assert "Built fleet(s) load-1, load-2 in" in output
    assert re.search(r"^  ChargingSession +500$", output, re.MULTILINE)


@pytest.mark.django_db
def test_load_sessions_belong_to_their_drivers_vehicle_and_keep_the_rules():
    seed_quietly("--sessions", "600", "--fleets", "1", "--meter-values", "3")

    sessions = ChargingSession.objects.filter(fleet__slug="load-1")
    assert not sessions.exclude(vehicle__assignments__driver=F("driver")).exists()
    assert not sessions.exclude(driver__fleet=F("fleet")).exists()
    assert not sessions.filter(energy_wh__gt=F("vehicle__usable_battery_kwh") * 1000).exists()
    assert sessions.filter(status=SessionStatus.COMPLETED, location_kind="depot").count() > 400
    assert set(sessions.values_list("location_kind", flat=True)) == {"depot", "home", "public"}
    assert set(sessions.values_list("purpose", flat=True)) == {"business", "private"}
    for session in sessions.order_by("?")[:40]:
        session.full_clean()
    for connector in Connector.objects.filter(station__fleet__slug="load-1"):
        in_order = list(connector.sessions.order_by("started_at"))
        for earlier, later in pairwise(in_order):
            assert earlier.ended_at <= later.started_at
            assert earlier.meter_stop_wh <= later.meter_start_wh
    assert MeterValue.objects.filter(session__fleet__slug="load-1").count() == 1_800
    for session in sessions.filter(meter_stop_wh__isnull=False).order_by("?")[:20]:
        last = session.meter_values.order_by("-measured_at").first()
        assert (last.measured_at, last.energy_wh) == (session.ended_at, session.meter_stop_wh)


@pytest.mark.django_db
def test_load_fleet_that_exists_is_skipped_and_left_unchanged():
    seed_quietly("--sessions", "300", "--fleets", "1")
    before = row_counts()

    output = seed_quietly("--sessions", "300", "--fleets", "1")

    assert row_counts() == before
    assert "Fleet 'load-1' is present; left unchanged." in output


@pytest.mark.django_db
def test_load_fleets_skip_the_existing_and_build_the_missing():
    seed_quietly("--sessions", "200", "--fleets", "1")
    load_1 = row_counts()

    seed_quietly("--sessions", "400", "--fleets", "2")

    assert ChargingSession.objects.filter(fleet__slug="load-1").count() == 200
    assert ChargingSession.objects.filter(fleet__slug="load-2").count() == 200
    assert row_counts()["drivers.Driver"] == load_1["drivers.Driver"] + 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "arguments",
    [["--sessions", "0"], ["--sessions", "10", "--fleets", "0"], ["--fleets", "1"]],
)
def test_load_sizes_out_of_range_are_refused(arguments):
    with pytest.raises(CommandError):
        call_command("seed_demo", *arguments)

    assert not Fleet.objects.exists()


def test_dutch_iban_has_the_iso_7064_check_digits():
    assert dutch_iban(bank_code="ABNA", account_number="0417164300") == "NL91ABNA0417164300"


def test_vin_check_digit_is_computed_as_in_the_textbook_example():
    maker = replace(EV_MODELS["id4"], world_manufacturer_id="1M8")

    vin = vin_build(ev=maker, descriptor="GDM9A", model_year=2019, plant="P", serial=42788)

    assert vin == "1M8GDM9AXKP042788"
