"""The migration that gives reimbursement lines their meter source, price basis and rate fills
the lines billed before it from their sessions, the rate only where the session's price
breakdown records it."""

import datetime as dt
from decimal import Decimal

import pytest

from apps.charging import services as charging_services
from apps.charging.choices import EnergySource, LocationKind, PriceBasis, SessionPurpose
from apps.payments.models import ReimbursementLine
from tests.factories import CostCenterFactory, DriverFactory, FleetFactory, UserFactory
from tests.migrations import applied_migrations, migrate_to, migrate_to_latest
from tests.payments.builders import priced_session_create

UTC = dt.UTC
BEFORE = ("payments", "0006_line_vat_is_the_line_alone")
MIGRATION = ("payments", "0007_billing_records_for_finance_exports")


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_lines_billed_before_it_from_their_sessions(run_billing, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 15, 12, 0, tzinfo=UTC), tick=False)
    fleet = FleetFactory(time_zone="Europe/Amsterdam", currency="EUR")
    driver = DriverFactory(
        fleet=fleet,
        cost_center=CostCenterFactory(fleet=fleet),
        home_rate_per_kwh=Decimal("0.30000"),
    )
    reported = charging_services.home_session_report(
        driver=driver,
        started_at=dt.datetime(2026, 10, 5, 18, 0, tzinfo=UTC),
        ended_at=dt.datetime(2026, 10, 5, 21, 0, tzinfo=UTC),
        energy_wh=12_000,
    )
    charging_services.charging_session_price(session=reported)
    charging_services.home_session_review(session=reported, approve=True, reviewer=UserFactory())
    driver.home_rate_per_kwh = Decimal("0.45000")
    driver.save(update_fields=["home_rate_per_kwh"])
    without_breakdown = priced_session_create(
        driver=driver,
        location_kind=LocationKind.HOME,
        purpose=SessionPurpose.BUSINESS,
        started_at=dt.datetime(2026, 10, 7, 18, 0, tzinfo=UTC),
        price_excl_vat=Decimal("2.50"),
    )
    run_billing(fleet, "2026-10")
    try:
        migrate_to(BEFORE)
        assert MIGRATION[1] not in applied_migrations("payments")

        migrate_to(MIGRATION)

        lines = ReimbursementLine.objects.order_by("session_id").values_list(
            "session_id", "meter_source", "price_basis", "rate_per_kwh", "amount"
        )
        assert list(lines) == [
            (
                reported.pk,
                EnergySource.ENTERED,
                PriceBasis.HOME_RATE,
                Decimal("0.30000"),
                Decimal("3.60"),
            ),
            (
                without_breakdown.pk,
                EnergySource.MEASURED,
                PriceBasis.HOME_RATE,
                None,
                Decimal("2.50"),
            ),
        ]
    finally:
        migrate_to_latest()
