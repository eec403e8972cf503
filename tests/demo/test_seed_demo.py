"""`manage.py seed_demo`: the demo fleet's shape and validity, idempotence, and load-test fleets."""

import io
import math
import re
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import F, Q
from django.test import override_settings
from django.utils import timezone

from apps.charging.choices import (
    EnergySource,
    HomeApproval,
    LocationKind,
    PowerType,
    PriceBasis,
    SessionSource,
    SessionStatus,
    UnpricedReason,
)
from apps.charging.models import (
    ChargingSession,
    ChargingStation,
    Connector,
    MeterValue,
    Tariff,
    TariffElement,
    TariffVersion,
)
from apps.charging.pricing import Dimension, PriceComponent, Restrictions, TariffTerms
from apps.charging.pricing import TariffElement as PricingElement
from apps.charging.services import charging_session_price
from apps.demo.seed import (
    DEMO_FINANCE_EMAIL,
    DEMO_MANAGER_EMAIL,
    DEMO_PASSWORD,
    EV_MODELS,
    _EnergyPrices,
    dutch_iban,
    seed_window,
    vin_build,
)
from apps.drivers.choices import DriverStatus
from apps.drivers.models import ChargeToken, Driver
from apps.exports.journal import journal_lines, ledger_entries
from apps.exports.periods import export_period_of_days
from apps.fleets.choices import MembershipRole
from apps.fleets.models import CostCenter, Depot, Fleet, Membership
from apps.fleets.seller import invoice_items_missing
from apps.payments.choices import BillingRunStatus, InvoiceStatus, ReimbursementStatus
from apps.payments.models import BillingRun, CreditNote, Invoice, Payment, Reimbursement
from apps.vehicles.models import OdometerReading, Vehicle, VehicleAssignment
from apps.vehicles.validators import validate_vin

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
DEMO_CLOCK = datetime(2026, 11, 18, 10, 30, tzinfo=AMSTERDAM)
VAT = Decimal("0.21")
PRICE_FIELDS = (
    "price_basis",
    "tariff_version_id",
    "price_currency",
    "price_excl_vat",
    "price_vat",
    "price_incl_vat",
    "unpriced_reason",
)


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def demo_fingerprint() -> list[tuple]:
    """What the demo data looks like, without ids or creation times."""
    sessions = ChargingSession.objects.filter(fleet__slug="demo").order_by(
        "started_at", "vehicle__vin"
    )
    return [
        *Vehicle.objects.filter(fleet__slug="demo").order_by("vin").values_list("vin", "plate"),
        *Driver.objects.filter(fleet__slug="demo").order_by("email").values_list("email", "iban"),
        *sessions.values_list(
            "started_at",
            "ended_at",
            "energy_wh",
            "external_id",
            "home_approval",
            "review_note",
            "price_basis",
            "tariff_version__tariff__ocpi_id",
            "price_excl_vat",
            "price_vat",
            "price_incl_vat",
        ),
    ]


def four(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def prices(session: ChargingSession) -> tuple[Decimal, Decimal, Decimal]:
    return session.price_excl_vat, session.price_vat, session.price_incl_vat


def parked_seconds(session: ChargingSession) -> float:
    """Seconds between consecutive meter readings in which the car took under 100 W."""
    readings = [
        (session.started_at, session.meter_start_wh),
        *(
            (value.measured_at, value.energy_wh)
            for value in session.meter_values.order_by("measured_at")
            if session.started_at < value.measured_at < session.ended_at
        ),
        (session.ended_at, session.meter_stop_wh),
    ]
    return sum(
        (end - start).total_seconds()
        for (start, start_wh), (end, end_wh) in pairwise(readings)
        if (end_wh - start_wh) * 3600 < 100 * (end - start).total_seconds()
    )


def depot_tariff_price(
    session: ChargingSession, energy_price: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """The demo depot tariff by hand: energy at `energy_price`, 0.35 per session, parking at
    1.20 an hour after 30 free minutes in steps of 5 minutes, 21 % VAT on each; each dimension
    to 4 places, the totals to the cent."""
    billable_parking = max(0.0, parked_seconds(session) - 30 * 60)
    lines = (
        Decimal(session.energy_wh) / 1000 * energy_price,
        Decimal("0.35"),
        Decimal("1.20") * math.ceil(billable_parking / 300) * 300 / 3600,
    )
    excl = sum(four(line) for line in lines)
    incl = excl + sum(four(line * VAT) for line in lines)
    return cents(excl), cents(incl) - cents(excl), cents(incl)


def local_hours(session: ChargingSession) -> tuple[datetime, datetime]:
    return session.started_at.astimezone(AMSTERDAM), session.ended_at.astimezone(AMSTERDAM)


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
    """The demo fleet, built once for the class inside a transaction rolled back afterwards,
    with the clock at DEMO_CLOCK for the build and the class's tests."""
    with (
        time_machine.travel(DEMO_CLOCK, tick=True),
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

    def test_invoices_carry_every_seller_item_and_every_driver_has_an_address(self, demo_fleet):
        assert invoice_items_missing(demo_fleet) == []
        assert (demo_fleet.legal_name, demo_fleet.vat_id, demo_fleet.iban, demo_fleet.bic) == (
            "Voltop Demo B.V.",
            "NL853015123B01",
            "DE89370400440532013000",
            "COBADEFFXXX",
        )
        drivers = Driver.objects.filter(fleet=demo_fleet)
        assert not drivers.filter(street="").exists()
        assert set(drivers.values_list("country", flat=True)) == {"NL"}

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
        window_start, anchor = seed_window(AMSTERDAM, now=timezone.now())
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
            *Tariff.objects.filter(fleet=demo_fleet),
            *TariffElement.objects.filter(tariff__fleet=demo_fleet),
            *TariffVersion.objects.filter(tariff__fleet=demo_fleet),
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

    def test_tariffs_are_published_from_before_the_first_session(self, demo_fleet):
        first_start = ChargingSession.objects.filter(fleet=demo_fleet).order_by("started_at")[0]
        versions = TariffVersion.objects.filter(tariff__fleet=demo_fleet).select_related("tariff")

        assert sorted((v.tariff.ocpi_id, v.number) for v in versions) == [
            ("VT-DEMO-DEPOT", 1),
            ("VT-DEMO-FAST-AMS-05", 1),
            ("VT-DEMO-FAST-UTR-03", 1),
        ]
        assert all(v.effective_from < first_start.started_at for v in versions)
        depot = versions.get(tariff__ocpi_id="VT-DEMO-DEPOT")
        assert depot.tariff.station is None
        assert depot.tariff.depot is None
        assert depot.terms["voltop_parking_grace_seconds"] == 1800
        assert depot.terms["elements"] == [
            {
                "price_components": [{"type": "ENERGY", "price": 0.19, "vat": 21, "step_size": 1}],
                "restrictions": {"start_time": "22:00", "end_time": "07:00"},
            },
            {
                "price_components": [
                    {"type": "FLAT", "price": 0.35, "vat": 21, "step_size": 1},
                    {"type": "ENERGY", "price": 0.28, "vat": 21, "step_size": 1},
                    {"type": "PARKING_TIME", "price": 1.2, "vat": 21, "step_size": 300},
                ]
            },
        ]
        fast = versions.get(tariff__ocpi_id="VT-DEMO-FAST-AMS-05")
        assert fast.tariff.station.ocpp_identity == "VT-DEMO-AMS-05"
        assert fast.terms["elements"] == [
            {"price_components": [{"type": "ENERGY", "price": 0.39, "vat": 21, "step_size": 1}]}
        ]
        assert fast.terms["min_price"] == {"excl_vat": 1, "incl_vat": 1.21}

    def test_every_depot_session_is_priced_with_its_stations_or_the_fleets_tariff(self, demo_fleet):
        depot_sessions = ChargingSession.objects.filter(
            fleet=demo_fleet, location_kind=LocationKind.DEPOT
        ).select_related("tariff_version__tariff", "connector__station")

        assert depot_sessions.count() > 500
        for session in depot_sessions:
            assert session.status == SessionStatus.COMPLETED
            assert session.price_basis == PriceBasis.TARIFF
            assert session.price_currency == "EUR"
            assert session.price_incl_vat == session.price_excl_vat + session.price_vat
            assert session.price_vat > 0
            assert session.priced_at is not None
            assert session.price_breakdown["ocpi"]["total_cost"] == {
                "excl_vat": str(session.price_excl_vat),
                "incl_vat": str(session.price_incl_vat),
            }
            assert session.tariff_version.effective_from <= session.started_at
            assert session.tariff_version.tariff.station in (None, session.connector.station)

    def test_a_night_charge_at_the_depot_costs_less_per_kwh_than_a_day_charge(self, demo_fleet):
        ac_sessions = ChargingSession.objects.filter(
            fleet=demo_fleet, location_kind=LocationKind.DEPOT
        ).exclude(connector__station__connectors__power_type=PowerType.DC)
        night = next(
            session
            for session in ac_sessions.order_by("-energy_wh")
            if (hours := local_hours(session))[0].time() >= time(22)
            and hours[1].date() == hours[0].date() + timedelta(days=1)
            and hours[1].time() <= time(7)
        )
        day = next(
            session
            for session in ac_sessions.order_by("started_at")
            if (hours := local_hours(session))[0].time() >= time(7)
            and hours[1].date() == hours[0].date()
            and hours[1].time() <= time(22)
            and parked_seconds(session) > 2 * 3600
        )

        assert prices(night) == depot_tariff_price(night, Decimal("0.19"))
        assert prices(day) == depot_tariff_price(day, Decimal("0.28"))
        assert night.price_incl_vat / night.energy_kwh < day.price_incl_vat / day.energy_kwh

    def test_fast_charging_stations_charge_0_39_per_kwh_with_a_minimum_price(self, demo_fleet):
        fast = ChargingSession.objects.filter(
            fleet=demo_fleet, connector__station__tariffs__isnull=False
        ).select_related("tariff_version__tariff", "connector__station")

        assert fast.count() > 10
        for session in fast:
            energy = Decimal(session.energy_wh) / 1000 * Decimal("0.39")
            excl = max(four(energy), Decimal("1.00"))
            incl = max(four(energy) + four(energy * VAT), Decimal("1.21"))
            assert session.tariff_version.tariff.station == session.connector.station
            assert prices(session) == (cents(excl), cents(incl) - cents(excl), cents(incl))

    def test_home_sessions_are_priced_at_the_drivers_rate_and_older_claims_reviewed(
        self, demo_fleet
    ):
        _, anchor = seed_window(AMSTERDAM, now=timezone.now())
        manager = get_user_model().objects.get(username=DEMO_MANAGER_EMAIL)
        home = ChargingSession.objects.filter(
            fleet=demo_fleet, location_kind=LocationKind.HOME
        ).select_related("driver")
        claims = home.filter(source=SessionSource.APP)

        for session in home:
            rate = session.driver.home_rate_per_kwh
            excl = cents(four(Decimal(session.energy_wh) / 1000 * rate))
            assert rate > 0
            assert session.price_basis == PriceBasis.HOME_RATE
            assert session.tariff_version is None
            assert prices(session) == (excl, Decimal("0.00"), excl)
        assert set(home.exclude(source=SessionSource.APP).values_list("home_approval")) == {
            (HomeApproval.NOT_REQUIRED,)
        }
        approvals = {
            approval: claims.filter(home_approval=approval).count()
            for approval in HomeApproval.values
        }
        assert approvals[HomeApproval.NOT_REQUIRED] == 0
        assert approvals[HomeApproval.APPROVED] > approvals[HomeApproval.REJECTED] > 5
        assert approvals[HomeApproval.PENDING] > 5
        pending = claims.filter(home_approval=HomeApproval.PENDING)
        reviewed = claims.exclude(home_approval=HomeApproval.PENDING)
        assert not pending.filter(ended_at__lt=anchor - timedelta(days=14)).exists()
        assert not pending.filter(reviewed_by__isnull=False).exists()
        assert not reviewed.filter(ended_at__gte=anchor - timedelta(days=14)).exists()
        assert set(reviewed.values_list("reviewed_by", flat=True)) == {manager.pk}
        assert not reviewed.filter(reviewed_at__isnull=True).exists()
        assert not claims.filter(home_approval=HomeApproval.REJECTED, review_note="").exists()
        assert set(claims.values_list("energy_source", flat=True)) == {EnergySource.ENTERED}
        assert set(
            ChargingSession.objects.filter(fleet=demo_fleet)
            .exclude(source__in=[SessionSource.APP, SessionSource.MANUAL])
            .values_list("energy_source", flat=True)
        ) == {EnergySource.MEASURED}

    def test_imported_public_sessions_carry_the_providers_cost(self, demo_fleet):
        public = ChargingSession.objects.filter(
            fleet=demo_fleet, location_kind=LocationKind.PUBLIC
        ).select_related("tariff_version__tariff")
        imported = public.filter(source=SessionSource.IMPORT)

        assert imported.count() > 20
        for session in imported:
            incl = cents(Decimal(session.energy_wh) / 1000 * Decimal("0.59"))
            excl = cents(incl / Decimal("1.21"))
            assert session.price_basis == PriceBasis.PROVIDER
            assert session.tariff_version is None
            assert (session.price_currency, *prices(session)) == ("EUR", excl, incl - excl, incl)
            assert session.price_breakdown["provider"]["price_per_kwh_incl_vat"] == "0.59"
        for session in public.filter(source=SessionSource.MANUAL):
            assert (
                session.price_basis,
                session.tariff_version,
                session.price_incl_vat,
                session.unpriced_reason,
            ) == ("", None, None, UnpricedReason.COST_PENDING)

    def test_pricing_a_demo_session_again_changes_no_price(self, demo_fleet):
        unbilled = ChargingSession.objects.filter(
            fleet=demo_fleet, billed_at__isnull=True
        ).order_by("started_at", "pk")
        sample = [
            *(
                session
                for basis in PriceBasis.values
                for session in unbilled.filter(price_basis=basis)[:5]
            ),
            *unbilled[::20],
        ]
        before = [(session.pk, *(getattr(session, f) for f in PRICE_FIELDS)) for session in sample]

        after = [
            (
                session.pk,
                *(getattr(charging_session_price(session=session), f) for f in PRICE_FIELDS),
            )
            for session in sample
        ]

        assert after == before
        assert {basis for _, basis, *_ in before} - {""} == set(PriceBasis.values)

    def test_its_journal_of_the_seeded_months_books_every_kind_it_has_and_balances(
        self, demo_fleet
    ):
        window_start, anchor = seed_window(AMSTERDAM, now=timezone.now())
        period = export_period_of_days(
            first_day=window_start.astimezone(AMSTERDAM).date(),
            last_day=anchor.astimezone(AMSTERDAM).date(),
            zone=AMSTERDAM,
        )

        entries = ledger_entries(fleet=demo_fleet, period=period)

        assert (demo_fleet.datev_consultant_number, demo_fleet.datev_client_number) == (
            29098,
            55003,
        )
        assert {"invoice", "credit_note", "allocation", "payment"} <= {
            entry.kind for entry in entries
        }
        for entry in entries:
            lines = list(journal_lines([entry]))
            assert sum(line["debit"] or 0 for line in lines) == sum(
                line["credit"] or 0 for line in lines
            )

    def test_its_approved_reimbursements_can_be_paid_out_by_sepa(self, demo_fleet):
        approved = Reimbursement.objects.filter(
            fleet=demo_fleet, status=ReimbursementStatus.APPROVED
        )

        assert approved.exists()
        assert not approved.filter(Q(driver__iban="") | Q(driver__account_holder="")).exists()

    def test_the_ended_months_are_billed_and_partly_settled(self, demo_fleet):
        runs = BillingRun.objects.filter(fleet=demo_fleet)

        assert runs.count() == 3
        assert set(runs.values_list("status", flat=True)) == {BillingRunStatus.COMPLETED}
        assert not Invoice.objects.filter(fleet=demo_fleet, status=InvoiceStatus.DRAFT).exists()
        assert Invoice.objects.filter(fleet=demo_fleet, status=InvoiceStatus.PAID).exists()
        assert Payment.objects.filter(fleet=demo_fleet).exists()
        assert CreditNote.objects.filter(fleet=demo_fleet).count() == 1
        priced_depot_and_public_left_unbilled = ChargingSession.objects.filter(
            fleet=demo_fleet,
            billed_at__isnull=True,
            ended_at__lt=runs.first().period_end,
            status="completed",
            price_incl_vat__isnull=False,
        ).exclude(location_kind="home")
        assert not priced_depot_and_public_left_unbilled.exists()

    def test_each_run_names_the_public_sessions_whose_cost_is_pending(self, demo_fleet):
        for run in BillingRun.objects.filter(fleet=demo_fleet):
            cost_pending = ChargingSession.objects.filter(
                fleet=demo_fleet,
                location_kind=LocationKind.PUBLIC,
                source=SessionSource.MANUAL,
                status=SessionStatus.COMPLETED,
                ended_at__gte=run.period_start,
                ended_at__lt=run.period_end,
            ).count()
            assert cost_pending > 0
            assert run.left_out_reasons.get(UnpricedReason.COST_PENDING) == cost_pending
            assert run.left_out_count == sum(run.left_out_reasons.values())

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
def test_demo_fleet_is_the_same_on_every_build_of_a_day(settings, time_machine):
    time_machine.move_to(DEMO_CLOCK, tick=True)
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


@pytest.mark.postgres
@pytest.mark.django_db
def test_load_fleets_leave_the_planner_statistics_of_the_tables_they_fill():
    seed_quietly("--sessions", "400", "--fleets", "1", "--meter-values", "2")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE relname IN (%s, %s, %s)",
            ["charging_chargingsession", "charging_metervalue", "drivers_driver"],
        )
        estimated = dict(cursor.fetchall())

    assert estimated == {
        "charging_chargingsession": ChargingSession.objects.count(),
        "charging_metervalue": MeterValue.objects.count(),
        "drivers_driver": Driver.objects.count(),
    }


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
@pytest.mark.parametrize("meter_values", ["0", "3"])
def test_load_sessions_carry_the_price_that_charging_session_price_gives(meter_values):
    seed_quietly("--sessions", "300", "--fleets", "1", "--meter-values", meter_values)
    sessions = ChargingSession.objects.filter(fleet__slug="load-1").order_by("pk")
    sample = [
        *sessions.exclude(location_kind=LocationKind.DEPOT),
        *sessions.filter(location_kind=LocationKind.DEPOT)[::5],
    ]
    written = {session.pk: [getattr(session, f) for f in PRICE_FIELDS] for session in sample}
    assert not sessions.filter(price_breakdown__isnull=False).exists()

    repriced = {
        session.pk: [getattr(charging_session_price(session=session), f) for f in PRICE_FIELDS]
        for session in sample
    }

    assert repriced == written
    version = TariffVersion.objects.get(tariff__fleet__slug="load-1")
    assert version.effective_from < sessions.order_by("started_at")[0].started_at
    assert {basis for basis, *_ in written.values()} == {*PriceBasis.values, ""}
    assert set(sessions.values_list("price_basis", "tariff_version")) == {
        (PriceBasis.TARIFF, version.pk),
        (PriceBasis.HOME_RATE, None),
        (PriceBasis.PROVIDER, None),
        ("", None),
    }
    unpriced = sessions.filter(price_basis="")
    assert set(unpriced.values_list("status", flat=True)) <= {
        SessionStatus.INVALID,
        SessionStatus.COMPLETED,
    }
    assert set(
        unpriced.filter(status=SessionStatus.COMPLETED).values_list(
            "location_kind", "source", "unpriced_reason"
        )
    ) <= {(LocationKind.PUBLIC, SessionSource.MANUAL, UnpricedReason.COST_PENDING)}
    assert (
        not sessions.filter(status=SessionStatus.COMPLETED, priced_at__isnull=True)
        .exclude(location_kind=LocationKind.PUBLIC, source=SessionSource.MANUAL)
        .exists()
    )
    depot = sessions.filter(location_kind=LocationKind.DEPOT, status=SessionStatus.COMPLETED)[0]
    excl = cents(Decimal(depot.energy_wh) / 1000 * Decimal("0.28"))
    assert prices(depot) == (excl, cents(excl * VAT), excl + cents(excl * VAT))


def test_energy_prices_are_the_engines_and_refuse_terms_that_price_more_than_energy():
    energy = PriceComponent(Dimension.ENERGY, Decimal("0.28"), Decimal("21"), 1)
    book = _EnergyPrices(TariffTerms("EUR", (PricingElement((energy,)),)), AMSTERDAM)

    assert book.price(12_345) == (Decimal("3.46"), Decimal("0.72"), Decimal("4.18"))
    assert book.price(0) == (Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))
    for element in (
        PricingElement((energy,), Restrictions(start_time=time(22), end_time=time(7))),
        PricingElement((energy, PriceComponent(Dimension.FLAT, Decimal("0.35")))),
    ):
        with pytest.raises(ValueError, match="energy alone"):
            _EnergyPrices(TariffTerms("EUR", (element,)), AMSTERDAM)


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
