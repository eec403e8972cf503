"""Priced sessions and whole fleets ready to bill, for the payments tests."""

import datetime as dt
from decimal import Decimal

from apps.charging.choices import HomeApproval, LocationKind, PriceBasis, SessionPurpose
from apps.charging.models import ChargingSession
from apps.drivers.models import Driver
from apps.fleets.models import Fleet
from tests.factories import (
    ChargingSessionFactory,
    CostCenterFactory,
    DriverFactory,
    FleetFactory,
    VehicleFactory,
)

UTC = dt.UTC


def priced_session_create(
    *,
    driver: Driver,
    started_at: dt.datetime,
    ended_at: dt.datetime | None = None,
    location_kind: str = LocationKind.DEPOT,
    purpose: str = SessionPurpose.PRIVATE,
    energy_wh: int = 20_000,
    price_excl_vat: Decimal = Decimal("6.00"),
    price_vat: Decimal = Decimal("1.26"),
    **fields,
) -> ChargingSession:
    """A completed session of `driver`, priced as pricing would have left it."""
    fleet = driver.fleet
    if location_kind == LocationKind.HOME:
        fields.setdefault("home_approval", HomeApproval.APPROVED)
        basis, price_vat = PriceBasis.HOME_RATE, Decimal("0.00")
    else:
        basis = PriceBasis.TARIFF if location_kind == LocationKind.DEPOT else PriceBasis.PROVIDER
    return ChargingSessionFactory(
        fleet=fleet,
        driver=driver,
        vehicle=fields.pop("vehicle", None),
        location_kind=location_kind,
        purpose=purpose,
        started_at=started_at,
        ended_at=ended_at or started_at + dt.timedelta(hours=2),
        meter_start_wh=None,
        meter_stop_wh=None,
        energy_wh=energy_wh,
        price_basis=basis,
        price_currency=fields.pop("price_currency", fleet.currency),
        price_excl_vat=price_excl_vat,
        price_vat=price_vat,
        price_incl_vat=price_excl_vat + price_vat,
        priced_at=ended_at or started_at + dt.timedelta(hours=2),
        **fields,
    )


def billing_fleet_create(
    *,
    drivers: int,
    sessions_per_driver: int,
    month_start: dt.datetime,
    slug: str | None = None,
) -> Fleet:
    """A fleet whose drivers each have a month of priced sessions: private and business at the
    depot, public private, and approved business charging at home. Deterministic: two fleets
    built with the same arguments bill to the same amounts."""
    fleet = FleetFactory(**({"slug": slug} if slug else {}))
    cost_center = CostCenterFactory(fleet=fleet)
    kinds = [
        (LocationKind.DEPOT, SessionPurpose.PRIVATE),
        (LocationKind.DEPOT, SessionPurpose.BUSINESS),
        (LocationKind.PUBLIC, SessionPurpose.PRIVATE),
        (LocationKind.HOME, SessionPurpose.BUSINESS),
    ]
    for driver_index in range(drivers):
        driver = DriverFactory(fleet=fleet, cost_center=cost_center)
        vehicle = VehicleFactory(fleet=fleet)
        for session_index in range(sessions_per_driver):
            location_kind, purpose = kinds[(driver_index + session_index) % len(kinds)]
            cents = 137 + 29 * driver_index + 53 * session_index
            priced_session_create(
                driver=driver,
                vehicle=vehicle,
                location_kind=location_kind,
                purpose=purpose,
                started_at=month_start + dt.timedelta(hours=7 + 19 * session_index),
                energy_wh=5_000 + 731 * session_index,
                price_excl_vat=Decimal(cents) / 100,
                price_vat=(Decimal(cents) * Decimal("0.21") / 100).quantize(Decimal("0.01")),
            )
    return fleet
