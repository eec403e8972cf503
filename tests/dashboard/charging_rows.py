"""Charging of a fleet for the dashboard's tests: sessions spread over this month and last in
the fleet's zone, at its depots, at home and in public, under its cost centers, some priced,
some still charging, some invalid; `scale` multiplies every kind of row."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from apps.charging.choices import LocationKind, SessionStatus
from apps.charging.models import ChargingSession
from apps.fleets.choices import BillingPeriodKind
from apps.fleets.models import CostCenter, Depot, Fleet
from apps.payments.choices import BillingRunStatus
from apps.payments.models import BillingRun
from tests.factories import (
    ChargingSessionFactory,
    ChargingStationFactory,
    ConnectorFactory,
    CostCenterFactory,
    DepotFactory,
    DriverFactory,
    VehicleFactory,
)

UTC = dt.UTC
# Frozen "now" of the dashboard tests: Sunday 6 December 2026, 11:00 in Amsterdam.
NOW = dt.datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FleetCharging:
    fleet: Fleet
    depots: list[Depot]
    cost_centers: list[CostCenter]
    sessions: list[ChargingSession]


def fleet_charging_create(fleet: Fleet, *, scale: int = 1) -> FleetCharging:
    """Sessions of `fleet` around NOW, `scale` times over, each with its own energy and price:

    - at depots: on the 1st at 00:30 local (23:30 UTC the day before, so last month in UTC),
      and on each of the last days;
    - at home and in public, this month and last month (31 October 23:30 UTC is 1 November
      locally: last month, not the month before);
    - one public session in another currency (its energy counts, its cost does not);
    - an active session on a vehicle of its own (charging now);
    - an invalid session, counted nowhere;
    - a session of the month before last, counted nowhere.
    """
    depots = [DepotFactory(fleet=fleet, name=f"Depot {fleet.pk}-{n}") for n in range(scale + 1)]
    connectors = [
        ConnectorFactory(station=ChargingStationFactory(fleet=fleet, depot=depot))
        for depot in depots
    ]
    cost_centers = [
        CostCenterFactory(fleet=fleet, code=f"CC-{fleet.pk}-{n}") for n in range(scale + 1)
    ]
    driver = DriverFactory(fleet=fleet, cost_center=cost_centers[0])
    sessions = []
    energy = 1_000

    def session(started_at, **fields):
        nonlocal energy
        energy += 1_237
        if not fields.get("active"):
            fields.setdefault("meter_start_wh", 5_000_000)
            fields.setdefault("meter_stop_wh", fields["meter_start_wh"] + energy)
            fields.setdefault("energy_wh", energy)
            fields.setdefault("ended_at", started_at + dt.timedelta(hours=1))
        sessions.append(
            ChargingSessionFactory(fleet=fleet, driver=driver, started_at=started_at, **fields)
        )

    def price(amount: str, currency: str | None = None) -> dict:
        return {
            "price_incl_vat": Decimal(amount),
            "price_currency": currency or fleet.currency,
        }

    for n in range(scale):
        for index, connector in enumerate(connectors):
            session(
                dt.datetime(2026, 11, 30, 23, 30, tzinfo=UTC),
                connector=connector,
                location_kind=LocationKind.DEPOT,
                cost_center=cost_centers[index % len(cost_centers)],
                **price(f"{3 + n}.{index + 10}"),
            )
            for day in (1, 3, 5, 6):
                session(
                    dt.datetime(2026, 12, day, 6 + n, 15, tzinfo=UTC),
                    connector=connector,
                    location_kind=LocationKind.DEPOT,
                    cost_center=cost_centers[(index + day) % len(cost_centers)],
                    **price(f"{day + n}.{index + 25}"),
                )
            session(
                dt.datetime(2026, 11, 12, 9 + n, 0, tzinfo=UTC),
                connector=connector,
                location_kind=LocationKind.DEPOT,
                cost_center=cost_centers[index % len(cost_centers)],
                **price(f"{7 + n}.05"),
            )
        session(
            dt.datetime(2026, 12, 4, 18, n, tzinfo=UTC),
            location_kind=LocationKind.HOME,
            cost_center=cost_centers[-1],
        )
        session(
            dt.datetime(2026, 10, 31, 23, 30 + n, tzinfo=UTC),
            location_kind=LocationKind.HOME,
            **price(f"2.{n + 10}"),
        )
        session(
            dt.datetime(2026, 12, 2, 12, n, tzinfo=UTC),
            location_kind=LocationKind.PUBLIC,
            cost_center=cost_centers[1],
            **price(f"11.{n + 40}"),
        )
        session(
            dt.datetime(2026, 12, 2, 14, n, tzinfo=UTC),
            location_kind=LocationKind.PUBLIC,
            **price("9.99", "CHF"),
        )
        session(
            dt.datetime(2026, 12, 6, 9, n, tzinfo=UTC),
            active=True,
            vehicle=VehicleFactory(fleet=fleet),
            location_kind=LocationKind.PUBLIC,
        )
        session(
            dt.datetime(2026, 12, 3, 8, n, tzinfo=UTC),
            status=SessionStatus.INVALID,
            location_kind=LocationKind.DEPOT,
            connector=connectors[0],
            **price("50.00"),
        )
        session(
            dt.datetime(2026, 10, 15, 8, n, tzinfo=UTC),
            location_kind=LocationKind.DEPOT,
            connector=connectors[0],
            **price("13.00"),
        )
    return FleetCharging(fleet, depots, cost_centers, sessions)


def billing_run_create(fleet: Fleet, label: str, start: dt.datetime, end: dt.datetime, **fields):
    return BillingRun.objects.create(
        fleet=fleet,
        period_kind=BillingPeriodKind.MONTHLY,
        period_label=label,
        period_start=start,
        period_end=end,
        currency=fleet.currency,
        **{"status": BillingRunStatus.COMPLETED, **fields},
    )
