"""Writes of the charging app: stations and connectors, the session lifecycle that every
interface calls (charger, driver app, admin, import), corrections, meter readings, home
charging claims, tariff changes and publishing, session pricing, and deletes."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from apps.charging.cdr_files import (
    ParsedFile,
    PublicSessionRow,
    RowError,
    StoredSession,
    future_row_errors,
    overlapping_row_errors,
    parse_cdr_json,
    parse_csv,
    stored_overlap_errors,
)
from apps.charging.choices import (
    EnergySource,
    HomeApproval,
    ImportFileFormat,
    LocationKind,
    PowerType,
    PriceBasis,
    SessionImportStatus,
    SessionPurpose,
    SessionSource,
    SessionStatus,
    UnpricedReason,
)
from apps.charging.exceptions import (
    ConnectorBusy,
    ConnectorIdInUse,
    ConnectorInUse,
    DriverAlreadyCharging,
    DriverNotActive,
    EndBeforeStart,
    EnergyNeeded,
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
    SessionInUse,
    SessionNotActive,
    SessionNotCorrectable,
    StationIdentityInUse,
    StationInUse,
    TariffChangeInPast,
    TariffCurrencyNotFleets,
    TariffInUse,
    TariffNeedsElement,
    TariffStillNeeded,
    TariffVersionScheduled,
    TokenNotValid,
    TokenUnknown,
    VehicleNotUsable,
)
from apps.charging.models import (
    ChargingSession,
    ChargingStation,
    Connector,
    MeterValue,
    SessionImport,
    Tariff,
    TariffElement,
    TariffVersion,
)
from apps.charging.ocpi import OcpiFormatError, tariff_terms_from_ocpi, tariff_terms_to_ocpi
from apps.charging.pricing import (
    ChargingPeriod,
    Dimension,
    MeterSample,
    Price,
    PriceBreakdown,
    TariffTerms,
    price_meter_values,
    price_session,
)
from apps.charging.selectors import (
    connector_list_in_tariff_scope,
    connector_list_priced_only_by,
    home_rate_terms,
    tariff_element_fields,
    tariff_latest_version,
    tariff_terms_of_model,
    tariff_terms_of_version,
    tariff_version_for_session,
)
from apps.drivers.choices import DriverStatus
from apps.drivers.models import ChargeToken, Driver
from apps.drivers.services import normalize_token_uid
from apps.fleets.models import Depot, Fleet
from apps.fleets.selectors import referring_rows_text, rows_referring_to
from apps.vehicles.choices import VehicleStatus
from apps.vehicles.models import Vehicle
from apps.vehicles.selectors import (
    vehicle_assignment_for_driver_at,
    vehicle_assignments_at_for_drivers,
)
from voltop.core.bulk_rows import rows_updated
from voltop.core.errors import DomainError, FieldFixed, NotFound
from voltop.core.models import fields_save_checked, fixed_fields_check
from voltop.core.money import currency_minor_unit, round_money, vat_amounts_of_excl_incl
from voltop.core.timeutils import local_time_text, require_aware

logger = logging.getLogger(__name__)

PLAUSIBILITY_MARGIN = Decimal("1.05")
# Energy a person enters is flagged below this for each hour plugged in (an average of 100 W,
# far below the slowest charger), and always at 0 Wh.
MIN_ENTERED_WH_PER_HOUR = 100
PRICING_SWEEP_AFTER = timedelta(minutes=15)
HOME_CHARGER_MAX_KW = Decimal("22")
CLOCK_SKEW = timedelta(minutes=5)
TARIFF_SCOPE_FIELDS = ("depot", "station", "connector")
TARIFF_WINDOW_FIELDS = ("valid_from", "valid_until")
TARIFF_PRICE_FIELDS = (
    "min_price_excl_vat",
    "min_price_incl_vat",
    "max_price_excl_vat",
    "max_price_incl_vat",
    "parking_grace_minutes",
)
TARIFF_PUBLISHED_FIELDS = (*TARIFF_WINDOW_FIELDS, *TARIFF_PRICE_FIELDS)
TARIFF_UPDATABLE_FIELDS = frozenset({"name", *TARIFF_SCOPE_FIELDS, *TARIFF_PUBLISHED_FIELDS})
# The TariffElement columns of each price component, by the first word of their names.
ELEMENT_COLUMN_PREFIX = {
    Dimension.ENERGY: "energy",
    Dimension.TIME: "time",
    Dimension.PARKING_TIME: "parking",
    Dimension.FLAT: "flat",
}
# The TariffElement columns of an OCPI element's numeric restrictions.
RESTRICTION_COLUMNS = {
    "min_kwh": "min_kwh",
    "max_kwh": "max_kwh",
    "min_power": "min_power_kw",
    "max_power": "max_power_kw",
    "min_current": "min_current_a",
    "max_current": "max_current_a",
}
SESSION_PRICE_FIELDS = (
    "tariff_version",
    "price_basis",
    "price_currency",
    "price_excl_vat",
    "price_vat",
    "price_incl_vat",
    "price_breakdown",
    "priced_at",
    "unpriced_reason",
)


@dataclass(frozen=True)
class MeterReading:
    """One sample a charger or app sends: the energy register (Wh) and optional power and SoC."""

    measured_at: datetime
    energy_wh: int
    power_w: int | None = None
    state_of_charge_percent: int | None = None


def _token_for_uid(uid: str) -> ChargeToken:
    token = (
        ChargeToken.objects.select_related("driver__fleet")
        .filter(uid=normalize_token_uid(uid))
        .order_by("-is_active", "-valid_from")
        .first()
    )
    if token is None:
        raise TokenUnknown(f"No token with UID {normalize_token_uid(uid)} is known.", field="token")
    return token


def _check_token_valid(token: ChargeToken, moment: datetime) -> None:
    if not token.is_active:
        raise TokenNotValid(f"Token {token.uid} is blocked.", field="token")
    if moment < token.valid_from:
        raise TokenNotValid(
            f"Token {token.uid} is valid only from "
            f"{local_time_text(token.valid_from, token.driver.fleet.zone)}.",
            field="token",
        )
    if token.valid_until is not None and moment >= token.valid_until:
        raise TokenNotValid(
            f"Token {token.uid} expired on "
            f"{local_time_text(token.valid_until, token.driver.fleet.zone)}.",
            field="token",
        )


def vehicle_for_session_start(
    driver: Driver, vehicle: Vehicle | None, started_at: datetime
) -> Vehicle | None:
    """The vehicle a session starting at `started_at` charges, locked: the one given, else the
    driver's assigned one, else none. A vehicle of another fleet or a retired one is refused."""
    if vehicle is None:
        vehicle = _assigned_vehicle(driver, started_at)
        if vehicle is None:
            return None
    vehicle = Vehicle.objects.select_for_update().get(pk=vehicle.pk)
    if vehicle.fleet_id != driver.fleet_id:
        raise OtherFleet("No such vehicle in the driver's fleet.", field="vehicle")
    if vehicle.status == VehicleStatus.RETIRED:
        raise VehicleNotUsable(f"Vehicle {vehicle} is retired.", field="vehicle")
    return vehicle


def _same_start(session: ChargingSession, **values) -> bool:
    return all(getattr(session, field) == value for field, value in values.items())


@transaction.atomic
def charging_session_start(
    *,
    started_at: datetime,
    source: SessionSource,
    token: ChargeToken | None = None,
    token_uid: str | None = None,
    driver: Driver | None = None,
    connector: Connector | None = None,
    vehicle: Vehicle | None = None,
    meter_start_wh: int | None = None,
    location_kind: LocationKind | None = None,
    purpose: SessionPurpose = SessionPurpose.BUSINESS,
    external_id: str = "",
) -> ChargingSession:
    """Start a session for a token (or a driver in the app), on a connector or elsewhere.

    A charger may send the same start twice: with the same external id and values the first
    session is returned unchanged. A public session is refused: it is billed at the provider's
    cost, which only the provider's file or a manager gives.
    """
    require_aware(started_at, field="started_at")
    if token is None and token_uid is not None:
        token = _token_for_uid(token_uid)
    if token is None and driver is None:
        raise TokenUnknown("A token or a driver is needed to start a session.", field="token")
    if token is not None and driver is not None and token.driver_id != driver.pk:
        raise TokenNotValid("The token belongs to another driver.", field="token")
    driver_id = token.driver_id if token is not None else driver.pk
    if connector is not None:
        connector = Connector.objects.select_related("station").get(pk=connector.pk)
    location_kind = location_kind or (LocationKind.DEPOT if connector else LocationKind.PUBLIC)
    if location_kind == LocationKind.PUBLIC:
        raise PublicSessionNeedsCost(
            "A public charging session is billed at the provider's cost: it comes from the "
            "provider's file, or a manager enters it with that cost. It cannot be started here.",
            field="location_kind",
        )
    if meter_start_wh is not None and meter_start_wh < 0:
        raise MeterWentBackwards("The meter start cannot be negative.", field="meter_start_wh")

    if external_id:
        existing = ChargingSession.objects.filter(source=source, external_id=external_id).first()
        if existing is not None:
            if _same_start(
                existing,
                driver_id=driver_id,
                connector_id=connector.pk if connector else None,
                started_at=started_at,
                meter_start_wh=meter_start_wh,
            ):
                return existing
            raise SessionExists(
                f"Session {external_id} from {source} exists with other values.",
                field="external_id",
            )

    driver = (
        Driver.objects.select_for_update(of=("self",)).select_related("fleet").get(pk=driver_id)
    )
    if connector is not None and connector.station.fleet_id != driver.fleet_id:
        raise OtherFleet("No such connector in the driver's fleet.", field="connector")
    if driver.status != DriverStatus.ACTIVE:
        raise DriverNotActive(
            f"Driver {driver} is {driver.get_status_display().lower()}.", field="driver"
        )
    if token is not None:
        _check_token_valid(token, started_at)
    vehicle = vehicle_for_session_start(driver, vehicle, started_at)
    if connector is not None:
        connector = Connector.objects.select_for_update().get(pk=connector.pk)
        if ChargingSession.objects.filter(
            connector=connector, status=SessionStatus.ACTIVE
        ).exists():
            raise ConnectorBusy(f"Connector {connector} is already charging.", field="connector")
    if (
        location_kind == LocationKind.DEPOT
        and ChargingSession.objects.filter(
            driver=driver, status=SessionStatus.ACTIVE, location_kind=LocationKind.DEPOT
        ).exists()
    ):
        raise DriverAlreadyCharging(
            f"{driver.full_name} already has an active depot session.", field="driver"
        )
    session = ChargingSession(
        fleet_id=driver.fleet_id,
        driver=driver,
        vehicle=vehicle,
        cost_center_id=cost_center_at_start(driver, vehicle),
        token=token,
        connector=connector,
        location_kind=location_kind,
        purpose=purpose,
        started_at=started_at,
        meter_start_wh=meter_start_wh,
        status=SessionStatus.ACTIVE,
        source=source,
        external_id=external_id,
    )
    try:
        with transaction.atomic():
            session.save()
    except IntegrityError as error:
        raise ConnectorBusy(
            "Another session started on this connector at the same time.", field="connector"
        ) from error
    logger.info(
        "charging.session_started",
        extra={"session_id": session.pk, "driver_id": driver.pk, "source": source},
    )
    return session


def _lock_session(session: ChargingSession) -> ChargingSession:
    return (
        ChargingSession.objects.select_for_update(of=("self",))
        .select_related("fleet", "vehicle", "connector", "driver")
        .get(pk=session.pk)
    )


def _check_meter_sequence(session: ChargingSession, points: list[tuple[datetime, int]]) -> None:
    previous_at, previous_wh = session.started_at, session.meter_start_wh
    for measured_at, energy_wh in points:
        if previous_wh is not None and energy_wh < previous_wh:
            raise MeterWentBackwards(
                f"The register reads {energy_wh} Wh at {measured_at:%H:%M:%S}, less than "
                f"{previous_wh} Wh at {previous_at:%H:%M:%S}; a meter never goes back.",
                field="energy_wh",
            )
        previous_at, previous_wh = measured_at, energy_wh


def _check_reading(session: ChargingSession, reading: MeterReading) -> None:
    """Refuse a reading outside the session's times or with a value no meter gives."""
    require_aware(reading.measured_at, field="measured_at")
    if reading.measured_at < session.started_at or (
        session.ended_at is not None and reading.measured_at > session.ended_at
    ):
        moment = local_time_text(reading.measured_at, session.fleet.zone, seconds=True)
        raise MeterValueOutsideSession(
            f"A reading at {moment} lies outside the session.",
            field="measured_at",
        )
    if reading.energy_wh < 0:
        raise MeterWentBackwards("An energy register cannot be negative.", field="energy_wh")
    if reading.power_w is not None and reading.power_w < 0:
        raise MeterWentBackwards("Power cannot be negative.", field="power_w")
    if reading.state_of_charge_percent is not None and not (
        0 <= reading.state_of_charge_percent <= 100
    ):
        raise MeterWentBackwards(
            "State of charge must be between 0 and 100 %.", field="state_of_charge_percent"
        )


def _check_meter_values_editable(session: ChargingSession) -> None:
    """Refuse changing the readings of a billed or an invalidated session."""
    _refuse_if_billed(session)
    if session.status == SessionStatus.INVALID:
        raise SessionNotActive("The session was invalidated.", field="session")


def _check_readings_sequence(session: ChargingSession, energies: Mapping[datetime, int]) -> None:
    """Refuse readings (`energies` by moment, the session's whole set) that go back, counting
    the session's meter start and, once stopped, its meter stop."""
    points = sorted(energies.items())
    if session.meter_stop_wh is not None and session.ended_at is not None:
        points.append((session.ended_at, session.meter_stop_wh))
    _check_meter_sequence(session, points)


def _price_again_after_readings_changed(session: ChargingSession) -> None:
    """A completed session is priced from its readings: its price is cleared and computed again
    after commit, so no billing run bills the price of the readings it had. A provider's cost
    (an imported public session) is what was paid and stays."""
    if session.status != SessionStatus.COMPLETED or session.price_basis == PriceBasis.PROVIDER:
        return
    _clear_price(session)
    session.save(update_fields=[*SESSION_PRICE_FIELDS, "updated_at"])
    _enqueue_pricing(session)


def _stored_readings_around(
    session: ChargingSession, first: datetime, last: datetime
) -> dict[datetime, MeterValue]:
    """The session's stored readings from `first` to `last`, and the nearest one on each side:
    all a sequence check of new readings in that span needs, whatever the session's length."""
    readings = session.meter_values.all()
    around = list(readings.filter(measured_at__gte=first, measured_at__lte=last))
    around += readings.filter(measured_at__lt=first).order_by("-measured_at")[:1]
    around += readings.filter(measured_at__gt=last).order_by("measured_at")[:1]
    return {value.measured_at: value for value in around}


@transaction.atomic
def charging_session_record_meter_values(
    *, session: ChargingSession, readings: Sequence[MeterReading]
) -> list[MeterValue]:
    """Add meter readings to a session; all are refused if one goes back or lies outside it,
    or if the session is billed or invalidated.

    A reading resent with the same moment and values changes nothing. Only the stored readings
    next to the new ones are read, so a reading costs the same at any point of a long session.
    """
    session = _lock_session(session)
    _check_meter_values_editable(session)
    readings = sorted(readings, key=lambda r: r.measured_at)
    if not readings:
        return []
    for reading in readings:
        _check_reading(session, reading)
    existing = _stored_readings_around(session, readings[0].measured_at, readings[-1].measured_at)
    new_values = []
    for reading in readings:
        known = existing.get(reading.measured_at)
        if known is not None:
            if known.energy_wh != reading.energy_wh:
                raise MeterWentBackwards(
                    f"A different reading at {reading.measured_at:%H:%M:%S} is already stored.",
                    field="energy_wh",
                )
            continue
        value = MeterValue(
            session=session,
            measured_at=reading.measured_at,
            energy_wh=reading.energy_wh,
            power_w=reading.power_w,
            state_of_charge_percent=reading.state_of_charge_percent,
        )
        existing[reading.measured_at] = value
        new_values.append(value)
    _check_readings_sequence(session, {at: value.energy_wh for at, value in existing.items()})
    MeterValue.objects.bulk_create(new_values)
    if new_values:
        _price_again_after_readings_changed(session)
    return new_values


METER_VALUE_EDITABLE_FIELDS = frozenset(
    {"measured_at", "energy_wh", "power_w", "state_of_charge_percent"}
)


@transaction.atomic
def meter_value_correct(*, meter_value: MeterValue, changes: dict) -> MeterValue:
    """Correct a reading's moment or values with `changes`; the fields left out keep their
    stored values. The corrected reading must still lie inside the session and keep its
    readings going up; a billed or invalidated session's readings are not changed. The session
    is locked, then the reading, and a completed session is priced again after commit."""
    refused = set(changes) - METER_VALUE_EDITABLE_FIELDS
    if refused:
        raise ValueError(f"meter_value_correct does not change {', '.join(sorted(refused))}.")
    session = _lock_session(meter_value.session)
    _check_meter_values_editable(session)
    stored = MeterValue.objects.select_for_update().get(pk=meter_value.pk)
    for name, value in changes.items():
        setattr(stored, name, value)
    _check_reading(
        session,
        MeterReading(
            measured_at=stored.measured_at,
            energy_wh=stored.energy_wh,
            power_w=stored.power_w,
            state_of_charge_percent=stored.state_of_charge_percent,
        ),
    )
    others = {
        value.measured_at: value.energy_wh for value in session.meter_values.exclude(pk=stored.pk)
    }
    if stored.measured_at in others:
        moment = local_time_text(stored.measured_at, session.fleet.zone, seconds=True)
        raise MeterValueOutsideSession(
            f"The session already has a reading at {moment}.", field="measured_at"
        )
    _check_readings_sequence(session, {**others, stored.measured_at: stored.energy_wh})
    if changes:
        stored.save(update_fields=list(changes))
        _price_again_after_readings_changed(session)
    return stored


def meter_value_delete_check(*, meter_value: MeterValue) -> None:
    """Refuse to delete a reading of a billed or invalidated session."""
    _check_meter_values_editable(meter_value.session)


@transaction.atomic
def meter_value_delete(*, meter_value: MeterValue) -> None:
    """Delete a reading of a session not billed yet (the others still go up without it); a
    completed session is priced again after commit. The session is locked first, so it cannot
    be billed while the reading is judged."""
    session = _lock_session(meter_value.session)
    _check_meter_values_editable(session)
    MeterValue.objects.filter(pk=meter_value.pk).delete()
    _price_again_after_readings_changed(session)
    logger.info(
        "charging.meter_value_deleted",
        extra={"session_id": session.pk, "meter_value_id": meter_value.pk},
    )


def _max_power_kw(session: ChargingSession) -> Decimal | None:
    limits = []
    if session.connector is not None:
        limits.append(session.connector.max_kw)
    if session.vehicle is not None:
        is_dc = session.connector is not None and session.connector.power_type == PowerType.DC
        vehicle_limit = session.vehicle.max_dc_kw if is_dc else session.vehicle.max_ac_kw
        if vehicle_limit is not None:
            limits.append(vehicle_limit)
    if session.location_kind == LocationKind.HOME:
        limits.append(HOME_CHARGER_MAX_KW)
    return min(limits) if limits else None


def implausible_energy_reason(
    *,
    energy_wh: int,
    seconds: Decimal,
    max_power_kw: Decimal | None,
    battery_kwh: Decimal | None,
    entered_by_person: bool = False,
) -> str:
    """Why `energy_wh` in `seconds` cannot be true, or "" when it can: more than the power or
    the battery allows, or, entered by a person, 0 Wh or less than MIN_ENTERED_WH_PER_HOUR for
    each hour plugged in."""
    energy_kwh = Decimal(energy_wh) / 1000
    reasons = []
    if entered_by_person and (
        energy_wh == 0 or energy_wh * 3600 < MIN_ENTERED_WH_PER_HOUR * seconds
    ):
        reasons.append(
            f"{energy_wh} Wh entered by a person for {seconds / 60:.0f} min plugged in is "
            f"less than {MIN_ENTERED_WH_PER_HOUR} Wh an hour"
            if energy_wh
            else f"0 Wh entered by a person for {seconds / 60:.0f} min plugged in"
        )
    if max_power_kw is not None:
        possible_kwh = max_power_kw * seconds / 3600
        if energy_kwh > possible_kwh * PLAUSIBILITY_MARGIN:
            reasons.append(
                f"{energy_kwh} kWh in {seconds / 60:.0f} min needs more than the "
                f"{max_power_kw} kW the connector and vehicle allow ({possible_kwh:.3f} kWh)"
            )
    if battery_kwh is not None and energy_kwh > battery_kwh * PLAUSIBILITY_MARGIN:
        reasons.append(f"{energy_kwh} kWh is more than the {battery_kwh} kWh battery can take")
    return "; ".join(reasons)


def _flag_if_implausible(session: ChargingSession) -> None:
    seconds = Decimal((session.ended_at - session.started_at).total_seconds())
    reason = implausible_energy_reason(
        energy_wh=session.energy_wh,
        seconds=seconds,
        max_power_kw=_max_power_kw(session),
        battery_kwh=session.vehicle.usable_battery_kwh if session.vehicle else None,
        entered_by_person=session.energy_source == EnergySource.ENTERED,
    )
    session.is_suspect = bool(reason)
    session.suspect_reason = reason


def _enqueue_pricing(session: ChargingSession) -> None:
    _enqueue_pricing_of(session.pk)


# The sessions to be priced together, inside sessions_priced_together().
_sessions_priced_together: ContextVar[list[int] | None] = ContextVar(
    "sessions_priced_together", default=None
)


def _enqueue_pricing_of(session_id: int) -> None:
    from apps.charging.tasks import price_charging_session

    priced_together = _sessions_priced_together.get()
    if priced_together is not None:
        transaction.on_commit(partial(priced_together.append, session_id))
        return
    transaction.on_commit(lambda: price_charging_session.delay(session_id))


def _enqueue_pricing_together(session_ids: list[int]) -> None:
    from apps.charging.tasks import price_charging_sessions

    if session_ids:
        price_charging_sessions.delay(session_ids)


@contextlib.contextmanager
def sessions_priced_together() -> Iterator[None]:
    """Inside a transaction, have the sessions stopped within priced by one task, queued once
    the transaction commits, rather than by one task each: a batch of a thousand stops queues
    one message. A stop undone with its savepoint is not priced."""
    priced_together: list[int] = []
    token = _sessions_priced_together.set(priced_together)
    try:
        yield
    finally:
        _sessions_priced_together.reset(token)
    transaction.on_commit(partial(_enqueue_pricing_together, priced_together))


@transaction.atomic
def charging_session_stop(
    *,
    session: ChargingSession,
    ended_at: datetime,
    meter_stop_wh: int | None,
    energy_wh: int | None = None,
) -> ChargingSession:
    """Stop an active session; its energy is meter stop minus meter start.

    Chargers resend stops: the same values return the stopped session unchanged, other values
    are refused. The price is computed after commit, in the background.
    """
    require_aware(ended_at, field="ended_at")
    session = _lock_session(session)
    if session.status == SessionStatus.COMPLETED:
        if session.ended_at == ended_at and session.meter_stop_wh == meter_stop_wh:
            return session
        raise SessionAlreadyStopped(
            f"The session was stopped at "
            f"{local_time_text(session.ended_at, session.fleet.zone, seconds=True)} with "
            f"{session.energy_wh} Wh charged; a different stop is refused.",
            field="ended_at",
        )
    if session.status != SessionStatus.ACTIVE:
        raise SessionNotActive("Only an active session can be stopped.", field="session")
    last = session.meter_values.aggregate(energy=Max("energy_wh"), measured_at=Max("measured_at"))
    refusal = session_stop_refusal(
        session,
        ended_at=ended_at,
        meter_stop_wh=meter_stop_wh,
        last_measured_at=last["measured_at"],
        highest_reading_wh=last["energy"],
    )
    if refusal is not None:
        raise refusal
    if session.meter_start_wh is not None:
        energy_wh = meter_stop_wh - session.meter_start_wh
    if energy_wh is None or energy_wh < 0:
        raise EnergyNeeded("Give the energy charged, 0 Wh or more.", field="energy_wh")
    session_stop_set(session, ended_at=ended_at, meter_stop_wh=meter_stop_wh, energy_wh=energy_wh)
    session.save(update_fields=SESSION_STOP_FIELDS)
    _stopped(session)
    return session


def session_stop_refusal(
    session: ChargingSession,
    *,
    ended_at: datetime,
    meter_stop_wh: int | None,
    last_measured_at: datetime | None,
    highest_reading_wh: int | None,
) -> DomainError | None:
    """Why an active session cannot stop at `ended_at` with `meter_stop_wh`, given when its
    last meter reading was taken and the highest energy read, or None when it can: a stop
    before the start or the last reading, no meter stop for a session with a meter start, or
    a meter stop below a reading before it."""
    if ended_at < session.started_at:
        return EndBeforeStart("The session cannot end before it started.", field="ended_at")
    if meter_stop_wh is None and session.meter_start_wh is not None:
        return EnergyNeeded(
            f"The session started at meter reading {session.meter_start_wh} Wh: give the meter "
            "reading at the stop.",
            field="meter_stop_wh",
        )
    if last_measured_at is not None and ended_at < last_measured_at:
        return EndBeforeStart(
            "The session cannot end before its last meter reading.", field="ended_at"
        )
    if meter_stop_wh is not None:
        already_read = max(
            (value for value in (session.meter_start_wh, highest_reading_wh) if value is not None),
            default=0,
        )
        if meter_stop_wh < already_read:
            return MeterWentBackwards(
                f"Meter stop {meter_stop_wh} Wh is below the {already_read} Wh already read; "
                "a meter never goes back.",
                field="meter_stop_wh",
            )
    return None


# What a stop changes on a session.
SESSION_STOP_FIELDS = [
    "ended_at",
    "meter_stop_wh",
    "energy_wh",
    "energy_source",
    "status",
    "is_suspect",
    "suspect_reason",
    "updated_at",
]


def session_stop_set(
    session: ChargingSession, *, ended_at: datetime, meter_stop_wh: int | None, energy_wh: int
) -> None:
    """Set SESSION_STOP_FIELDS on an active session (its connector and vehicle loaded) for a
    stop whose times and energy charging_session_stop has checked, or a batch has checked as
    it does; the session is not saved."""
    session.ended_at = ended_at
    session.meter_stop_wh = meter_stop_wh
    session.energy_wh = energy_wh
    # Without a meter start the energy is a number given with the stop (the driver app), not a
    # difference of a charger's readings.
    session.energy_source = (
        EnergySource.MEASURED if session.meter_start_wh is not None else EnergySource.ENTERED
    )
    session.status = SessionStatus.COMPLETED
    session.updated_at = timezone.now()
    _flag_if_implausible(session)


def _stopped(session: ChargingSession) -> None:
    logger.info(
        "charging.session_stopped",
        extra={"session_id": session.pk, "energy_wh": session.energy_wh},
    )
    _enqueue_pricing(session)


def charging_sessions_stopped_save(*, sessions: Sequence[ChargingSession]) -> None:
    """Save many stops set by session_stop_set, locked sessions all, in one statement; each is
    priced after commit, as charging_session_stop has a session priced."""
    rows_updated(
        ChargingSession,
        SESSION_STOP_FIELDS,
        [
            (session.pk, *(getattr(session, name) for name in SESSION_STOP_FIELDS))
            for session in sessions
        ],
    )
    for session in sessions:
        _stopped(session)


def cost_center_at_start(driver: Driver, vehicle: Vehicle | None) -> int | None:
    """The cost center a session is booked to, fixed when it starts: the driver's, else the
    vehicle's, so a later move of either does not move the session's cost."""
    if driver.cost_center_id is not None:
        return driver.cost_center_id
    return vehicle.cost_center_id if vehicle is not None else None


def _refuse_if_billed(session: ChargingSession) -> None:
    if session.billed_at is not None:
        raise SessionBilled(
            "The session is billed; correct it with a credit note on its invoice.",
            field="session",
        )


@transaction.atomic
def charging_session_invalidate(*, session: ChargingSession, reason: str) -> ChargingSession:
    """Mark a session invalid (a test, a fault, a duplicate); it is then never billed."""
    session = _lock_session(session)
    _refuse_if_billed(session)
    if not reason.strip():
        raise SessionNotCorrectable("Say why the session is invalid.", field="reason")
    session.status = SessionStatus.INVALID
    session.invalid_reason = reason.strip()
    session.save(update_fields=["status", "invalid_reason", "updated_at"])
    return session


@transaction.atomic
def charging_session_set_purpose(
    *, session: ChargingSession, driver: Driver, purpose: SessionPurpose
) -> ChargingSession:
    """A driver says whether their completed session was for business or private use, until
    it is billed. The price does not depend on the purpose; billing decides who pays."""
    session = _lock_session(session)
    if session.driver_id != driver.pk:
        raise NotFound("No such session among yours.", field="session")
    _refuse_if_billed(session)
    if session.status != SessionStatus.COMPLETED:
        raise SessionNotCorrectable(
            "Only a completed session's purpose can be changed.", field="session"
        )
    if session.purpose == purpose:
        return session
    session.purpose = purpose
    session.save(update_fields=["purpose", "updated_at"])
    logger.info(
        "charging.session_purpose_set",
        extra={"session_id": session.pk, "driver_id": driver.pk, "purpose": purpose},
    )
    return session


def _correction_energy(
    *,
    ended_at: datetime,
    meter_start_wh: int | None,
    meter_stop_wh: int | None,
    energy_wh: int | None,
) -> int:
    """The energy of a corrected session: meter stop minus meter start when both are known
    (an energy given beside them must be that), else the energy given."""
    if ended_at > timezone.now() + CLOCK_SKEW:
        raise InvalidCorrection("A session cannot end in the future.", field="ended_at")
    for field, reading in (("meter_start_wh", meter_start_wh), ("meter_stop_wh", meter_stop_wh)):
        if reading is not None and reading < 0:
            raise InvalidCorrection("A meter reading cannot be negative.", field=field)
    if meter_start_wh is not None and meter_stop_wh is not None:
        if meter_stop_wh < meter_start_wh:
            raise MeterWentBackwards(
                "Meter stop is below meter start; a meter never goes back.", field="meter_stop_wh"
            )
        if energy_wh is not None and energy_wh != meter_stop_wh - meter_start_wh:
            raise InvalidCorrection(
                f"The energy must be meter stop minus meter start: "
                f"{meter_stop_wh - meter_start_wh} Wh; leave it out to have it computed.",
                field="energy_wh",
            )
        return meter_stop_wh - meter_start_wh
    if energy_wh is None:
        raise InvalidCorrection(
            "Give both meter readings, or the energy charged.", field="energy_wh"
        )
    if energy_wh < 0:
        raise InvalidCorrection("The energy must be zero or more.", field="energy_wh")
    return energy_wh


def _clear_price(session: ChargingSession) -> None:
    session.tariff_version = None
    session.price_basis = ""
    session.price_currency = ""
    session.price_excl_vat = session.price_vat = session.price_incl_vat = None
    session.price_breakdown = None
    session.priced_at = None
    session.unpriced_reason = ""


@transaction.atomic
def charging_session_correct(
    *,
    session: ChargingSession,
    started_at: datetime,
    ended_at: datetime,
    meter_start_wh: int | None,
    meter_stop_wh: int | None,
    energy_wh: int | None = None,
    purpose: SessionPurpose | None = None,
) -> ChargingSession:
    """Correct a completed session that is not billed yet: its times, its meter readings (the
    energy is their difference) or, without both readings, its energy, and its purpose when
    given. Every meter reading must lie within the corrected times and keep going up; the end
    cannot lie in the future.

    The price is computed again after commit; until then the session is unpriced, so no billing
    run bills a price of the uncorrected session. A provider's cost (an imported public session)
    is what was paid and stays.
    """
    require_aware(started_at, field="started_at")
    require_aware(ended_at, field="ended_at")
    session = _lock_session(session)
    _refuse_if_billed(session)
    if session.status != SessionStatus.COMPLETED:
        raise SessionNotCorrectable("Only a completed session can be corrected.", field="session")
    if ended_at < started_at:
        raise EndBeforeStart("The session cannot end before it started.", field="ended_at")
    energy_wh = _correction_energy(
        ended_at=ended_at,
        meter_start_wh=meter_start_wh,
        meter_stop_wh=meter_stop_wh,
        energy_wh=energy_wh,
    )
    outside = session.meter_values.exclude(measured_at__range=(started_at, ended_at))
    if outside.exists():
        raise MeterValueOutsideSession(
            "Meter readings lie outside the corrected times.", field="started_at"
        )
    corrected = ["started_at", "ended_at", "meter_start_wh", "meter_stop_wh", "energy_wh"]
    if (session.meter_start_wh, session.meter_stop_wh, session.energy_wh) != (
        meter_start_wh,
        meter_stop_wh,
        energy_wh,
    ):
        session.energy_source = EnergySource.ENTERED
        corrected.append("energy_source")
    session.started_at = started_at
    session.ended_at = ended_at
    session.meter_start_wh = meter_start_wh
    session.meter_stop_wh = meter_stop_wh
    session.energy_wh = energy_wh
    if purpose is not None:
        session.purpose = purpose
        corrected.append("purpose")
    points = [(value.measured_at, value.energy_wh) for value in session.meter_values.all()]
    if meter_stop_wh is not None:
        points.append((ended_at, meter_stop_wh))
    _check_meter_sequence(session, sorted(points))
    _flag_if_implausible(session)
    corrected += ["is_suspect", "suspect_reason"]
    if session.price_basis != PriceBasis.PROVIDER:
        _clear_price(session)
        corrected += SESSION_PRICE_FIELDS
    session.save(update_fields=[*corrected, "updated_at"])
    logger.info(
        "charging.session_corrected",
        extra={"session_id": session.pk, "energy_wh": session.energy_wh},
    )
    _enqueue_pricing(session)
    return session


@transaction.atomic
def home_session_report(
    *,
    driver: Driver,
    started_at: datetime,
    ended_at: datetime,
    energy_wh: int | None = None,
    meter_start_wh: int | None = None,
    meter_stop_wh: int | None = None,
    meter_photo=None,
    vehicle: Vehicle | None = None,
    purpose: SessionPurpose = SessionPurpose.BUSINESS,
) -> ChargingSession:
    """A driver's claim for charging at home, priced at their reimbursement rate and waiting
    for a manager's approval."""
    require_aware(started_at, field="started_at")
    require_aware(ended_at, field="ended_at")
    driver = Driver.objects.select_for_update().get(pk=driver.pk)
    if driver.status != DriverStatus.ACTIVE:
        raise DriverNotActive(
            f"Driver {driver} is {driver.get_status_display().lower()}.", field="driver"
        )
    if ended_at <= started_at:
        raise EndBeforeStart("The session must end after it starts.", field="ended_at")
    if ended_at > timezone.now() + timedelta(minutes=5):
        raise InvalidHomeSession("A home session cannot end in the future.", field="ended_at")
    if meter_start_wh is not None or meter_stop_wh is not None:
        if meter_start_wh is None or meter_stop_wh is None:
            raise InvalidHomeSession(
                "Give both meter readings, or the energy alone.", field="meter_stop_wh"
            )
        if meter_stop_wh < meter_start_wh:
            raise MeterWentBackwards(
                "Meter stop is below meter start; a meter never goes back.", field="meter_stop_wh"
            )
        energy_wh = meter_stop_wh - meter_start_wh
    if energy_wh is None or energy_wh <= 0:
        raise InvalidHomeSession("Give the energy charged (more than 0 Wh).", field="energy_wh")
    overlapping = ChargingSession.objects.filter(
        driver=driver,
        location_kind=LocationKind.HOME,
        started_at__lt=ended_at,
        ended_at__gt=started_at,
    ).exclude(status=SessionStatus.INVALID)
    if overlapping.exists():
        raise InvalidHomeSession(
            "Another home session of yours overlaps this time.", field="started_at"
        )
    vehicle = vehicle_for_session_start(driver, vehicle, started_at)
    session = ChargingSession(
        fleet_id=driver.fleet_id,
        driver=driver,
        vehicle=vehicle,
        cost_center_id=cost_center_at_start(driver, vehicle),
        location_kind=LocationKind.HOME,
        purpose=purpose,
        started_at=started_at,
        ended_at=ended_at,
        meter_start_wh=meter_start_wh,
        meter_stop_wh=meter_stop_wh,
        energy_wh=energy_wh,
        energy_source=EnergySource.ENTERED,
        status=SessionStatus.COMPLETED,
        source=SessionSource.APP,
        home_approval=HomeApproval.PENDING,
    )
    if meter_photo is not None:
        session.meter_photo = meter_photo
    _flag_if_implausible(session)
    session.save()
    _enqueue_pricing(session)
    return session


@transaction.atomic
def home_session_review(
    *, session: ChargingSession, approve: bool, reviewer, reason: str = ""
) -> ChargingSession:
    """A manager approves or rejects a pending home session."""
    session = _lock_session(session)
    if session.home_approval != HomeApproval.PENDING:
        raise HomeSessionNotPending(
            f"The home session is {session.get_home_approval_display().lower()}, not pending.",
            field="home_approval",
        )
    _refuse_if_billed(session)
    if not approve and not reason.strip():
        raise InvalidHomeSession("Say why the home session is rejected.", field="reason")
    session.home_approval = HomeApproval.APPROVED if approve else HomeApproval.REJECTED
    session.reviewed_by = reviewer
    session.reviewed_at = timezone.now()
    session.review_note = reason.strip()
    session.save(
        update_fields=["home_approval", "reviewed_by", "reviewed_at", "review_note", "updated_at"]
    )
    return session


def _breakdown_of(session: ChargingSession, terms: TariffTerms) -> PriceBreakdown:
    zone = session.fleet.zone
    if session.meter_start_wh is not None and session.meter_stop_wh is not None:
        return price_meter_values(
            terms=terms,
            started_at=session.started_at,
            ended_at=session.ended_at,
            meter_start_wh=session.meter_start_wh,
            meter_stop_wh=session.meter_stop_wh,
            samples=[
                MeterSample(value.measured_at, value.energy_wh, value.power_w)
                for value in session.meter_values.all()
            ],
            zone=zone,
        )
    periods = ()
    if session.ended_at > session.started_at:
        periods = (
            ChargingPeriod(session.started_at, session.ended_at, Decimal(session.energy_wh), True),
        )
    return price_session(terms=terms, periods=periods, zone=zone)


def _leave_unpriced(session: ChargingSession, reason: UnpricedReason) -> ChargingSession:
    """Record why the session has no price, so billing's report, the admin and the API can
    show it. A session priced before keeps that price."""
    logger.warning(
        "charging.session_not_priced", extra={"session_id": session.pk, "reason": reason}
    )
    if session.price_incl_vat is None and session.unpriced_reason != reason:
        session.unpriced_reason = reason
        session.save(update_fields=["unpriced_reason", "updated_at"])
    return session


@transaction.atomic
def charging_session_price(*, session: ChargingSession) -> ChargingSession:
    """Price a completed, unbilled session: at the driver's home rate for home charging, with
    the tariff version in force at its start at a depot. Public sessions carry the provider's
    cost; without one they stay unpriced, their cost pending. A session left without a price
    records why (no tariff applies, the tariff is in another currency than the fleet's, the
    provider's cost is pending); pricing it clears the reason. Running it again gives the same
    result."""
    session = _lock_session(session)
    if session.status != SessionStatus.COMPLETED or session.price_basis == PriceBasis.PROVIDER:
        return session
    _refuse_if_billed(session)
    if session.location_kind == LocationKind.HOME:
        terms = home_rate_terms(
            currency=session.fleet.currency, rate_per_kwh=session.driver.home_rate_per_kwh
        )
        version, basis = None, PriceBasis.HOME_RATE
    elif session.location_kind == LocationKind.DEPOT:
        version = tariff_version_for_session(session)
        if version is None:
            return _leave_unpriced(session, UnpricedReason.NO_TARIFF)
        terms, basis = tariff_terms_of_version(version), PriceBasis.TARIFF
        if terms.currency != session.fleet.currency:
            return _leave_unpriced(session, UnpricedReason.TARIFF_CURRENCY)
    else:
        return _leave_unpriced(session, UnpricedReason.COST_PENDING)
    breakdown = _breakdown_of(session, terms)
    session.tariff_version = version
    session.price_basis = basis
    session.price_currency = breakdown.currency
    session.price_excl_vat = breakdown.total_excl_vat
    session.price_vat = breakdown.total_vat
    session.price_incl_vat = breakdown.total_incl_vat
    session.price_breakdown = breakdown.as_dict()
    session.priced_at = timezone.now()
    session.unpriced_reason = ""
    session.save(update_fields=[*SESSION_PRICE_FIELDS, "updated_at"])
    return session


def charging_sessions_price(*, session_ids: Sequence[int]) -> int:
    """Price each of the sessions as charging_session_price does, each in a transaction of its
    own. A session whose pricing is refused is logged and left to the hourly sweep; the others
    are priced all the same. Returns how many were priced or left with their reason."""
    priced = 0
    for session in ChargingSession.objects.filter(pk__in=session_ids).order_by("pk"):
        try:
            charging_session_price(session=session)
        except DomainError as error:
            logger.warning(
                "charging.session_pricing_refused",
                extra={"session_id": session.pk, "code": error.code, "error": error.message},
            )
            continue
        priced += 1
    return priced


def charging_sessions_price_unpriced(*, now: datetime) -> int:
    """The beat's hourly sweep: enqueue pricing again for every completed, unbilled session
    still without a price and left alone for PRICING_SWEEP_AFTER (its own pricing has had
    time to run). That finds sessions whose pricing task was lost after commit, those no
    tariff applied to (a tariff published since, back-dated, may apply now), and public
    sessions entered without the provider's cost before they were marked as such. Sessions
    whose provider's cost is pending wait for a person: no pricing can find that cost.
    Returns how many sessions were enqueued."""
    session_ids = list(
        ChargingSession.objects.filter(
            status=SessionStatus.COMPLETED,
            billed_at__isnull=True,
            price_incl_vat__isnull=True,
            updated_at__lt=now - PRICING_SWEEP_AFTER,
        )
        .exclude(unpriced_reason=UnpricedReason.COST_PENDING)
        .order_by("ended_at", "pk")
        .values_list("pk", flat=True)
    )
    for session_id in session_ids:
        _enqueue_pricing_of(session_id)
    logger.info("charging.unpriced_sessions_swept", extra={"sessions": len(session_ids)})
    return len(session_ids)


def _tariff_document(tariff: Tariff, *, last_updated: datetime) -> tuple[TariffTerms, dict]:
    """The tariff's current rows as pricing terms and as the OCPI document a version freezes."""
    try:
        terms = tariff_terms_of_model(tariff)
    except OcpiFormatError as error:
        raise InvalidTariff(error.message, field=error.field) from error
    document = tariff_terms_to_ocpi(
        terms,
        tariff_id=tariff.ocpi_id,
        country_code=str(tariff.fleet.country),
        party_id="VTP",
        last_updated=last_updated,
        start_date_time=tariff.valid_from,
        end_date_time=tariff.valid_until,
    )
    return terms, document


def _refuse_currency_not_fleets(currency: str, fleet: Fleet, *, field: str) -> None:
    if currency != fleet.currency:
        raise TariffCurrencyNotFleets(
            f"The tariff is in {currency}, but {fleet} bills in {fleet.currency}: sessions it "
            f"priced could never be billed. Give the prices in {fleet.currency}.",
            field=field,
        )


@transaction.atomic
def tariff_publish(*, tariff: Tariff, effective_from: datetime | None = None) -> TariffVersion:
    """Freeze the tariff as it is now into a new version, in force from `effective_from`
    (now by default; earlier to correct the price of sessions not billed yet). A tariff in
    another currency than its fleet's is refused."""
    tariff = (
        Tariff.objects.select_for_update(of=("self",)).select_related("fleet").get(pk=tariff.pk)
    )
    _refuse_currency_not_fleets(tariff.currency, tariff.fleet, field="currency")
    effective_from = effective_from or timezone.now()
    require_aware(effective_from, field="effective_from")
    terms, document = _tariff_document(tariff, last_updated=effective_from)
    latest = tariff.versions.order_by("-number").first()
    if (
        latest is not None
        and latest.effective_from == effective_from
        and tariff_terms_of_version(latest) == terms
    ):
        return latest
    return TariffVersion.objects.create(
        tariff=tariff,
        number=(latest.number + 1) if latest else 1,
        effective_from=effective_from,
        terms=document,
    )


def _tariff_changed_fields(tariff: Tariff, changes: Mapping[str, object]) -> list[str]:
    changed = []
    for field, value in changes.items():
        if field in TARIFF_SCOPE_FIELDS:
            current, value = getattr(tariff, f"{field}_id"), getattr(value, "pk", value)
        else:
            current = getattr(tariff, field)
        if value != current:
            changed.append(field)
    return changed


def _tariff_has_unpublished_terms(tariff: Tariff) -> bool:
    """Whether the tariff as saved (its element rows included) says something other than the
    version published last, or has no version yet."""
    latest = tariff_latest_version(tariff)
    return latest is None or (
        _tariff_document(tariff, last_updated=latest.effective_from)[1] != latest.terms
    )


def _moment_text(moment: datetime, zone) -> str:
    """A moment as the fleet reads it; in UTC at the ends of the calendar, where the fleet's
    zone would take it past year 1 or 9999."""
    try:
        return local_time_text(moment, zone)
    except OverflowError:
        return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def tariff_version_order_check(*, tariff: Tariff, effective_from: datetime) -> None:
    """Refuse a new version in force from `effective_from` while a version published already
    takes effect later: the new one would be in force only until then, and the change lost."""
    latest = tariff_latest_version(tariff)
    if latest is not None and latest.effective_from > effective_from:
        raise TariffVersionScheduled(
            f"Version {latest.number} of the tariff takes effect on "
            f"{_moment_text(latest.effective_from, tariff.fleet.zone)}; a change can take "
            "effect from then on.",
            field="effective_from",
        )


def _check_tariff_window(
    tariff: Tariff, changes: Mapping[str, object], changed: list[str], now: datetime
) -> None:
    zone = tariff.fleet.zone
    if "valid_from" in changed:
        if tariff.valid_from is None or tariff.valid_from <= now:
            since = f" since {_moment_text(tariff.valid_from, zone)}" if tariff.valid_from else ""
            raise TariffChangeInPast(
                f"The tariff is in force{since}; its start cannot move, or sessions it priced "
                "would fall outside it.",
                field="valid_from",
            )
        if changes["valid_from"] is None or changes["valid_from"] < now:
            raise TariffChangeInPast(
                "A start before now would reach back over sessions already charged; give a "
                "start from now on.",
                field="valid_from",
            )
    if "valid_until" in changed:
        if tariff.valid_until is not None and tariff.valid_until <= now:
            raise TariffChangeInPast(
                f"The tariff ended on {_moment_text(tariff.valid_until, zone)}; its end "
                "cannot move.",
                field="valid_until",
            )
        if changes["valid_until"] is not None and changes["valid_until"] < now:
            raise TariffChangeInPast(
                "An end before now would reach back over sessions already charged; end it "
                "from now on, or deactivate it.",
                field="valid_until",
            )
    valid_from = changes.get("valid_from", tariff.valid_from)
    valid_until = changes.get("valid_until", tariff.valid_until)
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        raise InvalidTariff("The tariff must end after it starts.", field="valid_until")
    if "valid_from" in changed and valid_from > tariff.valid_from:
        _refuse_shortening_window(
            tariff, start=tariff.valid_from, end=valid_from, field="valid_from"
        )
    if (
        "valid_until" in changed
        and valid_until is not None
        and (tariff.valid_until is None or valid_until < tariff.valid_until)
    ):
        _refuse_shortening_window(
            tariff, start=valid_until, end=tariff.valid_until, field="valid_until"
        )


def _refuse_shortening_window(
    tariff: Tariff, *, start: datetime, end: datetime | None, field: str
) -> None:
    """Refuse taking [start, end) out of the saved tariff's window while, at the first moment
    of it the tariff could price a session (its first version in force by then), a connector
    has no other tariff."""
    first_effective = tariff.versions.aggregate(first=Min("effective_from"))["first"]
    if first_effective is None:
        return
    moment = max(start, first_effective)
    if end is not None and moment >= end:
        return
    _refuse_leaving_unpriced(
        list(connector_list_priced_only_by(tariff=tariff, at=moment)),
        field=field,
        since=_moment_text(moment, tariff.fleet.zone),
    )


def _check_tariff_prices(tariff: Tariff, changes: Mapping[str, object]) -> None:
    values = {field: changes.get(field, getattr(tariff, field)) for field in TARIFF_PRICE_FIELDS}
    for field, value in values.items():
        if value is not None and value < 0:
            raise InvalidTariff("This cannot be negative.", field=field)
    for bound in ("min", "max"):
        excl, incl = values[f"{bound}_price_excl_vat"], values[f"{bound}_price_incl_vat"]
        if incl is not None and excl is None:
            raise InvalidTariff(
                f"A {bound}imum price incl. VAT needs the {bound}imum price excl. VAT.",
                field=f"{bound}_price_excl_vat",
            )
        if incl is not None and incl < excl:
            raise InvalidTariff(
                f"The {bound}imum price incl. VAT is below the {bound}imum price excl. VAT.",
                field=f"{bound}_price_incl_vat",
            )
    for vat in ("excl", "incl"):
        low, high = values[f"min_price_{vat}_vat"], values[f"max_price_{vat}_vat"]
        if low is not None and high is not None and high < low:
            raise InvalidTariff(
                f"The maximum price {vat}. VAT is below the minimum price {vat}. VAT.",
                field=f"max_price_{vat}_vat",
            )


def _check_tariff_scope(
    tariff: Tariff, changes: Mapping[str, object], changed: list[str], now: datetime
) -> None:
    scope = {f"{field}_id": getattr(tariff, f"{field}_id") for field in TARIFF_SCOPE_FIELDS}
    scope.update(
        {
            f"{field}_id": getattr(changes[field], "pk", changes[field])
            for field in TARIFF_SCOPE_FIELDS
            if field in changes
        }
    )
    in_new_scope = connector_list_in_tariff_scope(tariff=Tariff(fleet_id=tariff.fleet_id, **scope))
    left = connector_list_priced_only_by(tariff=tariff, at=now).exclude(
        pk__in=in_new_scope.values("pk")
    )
    _refuse_leaving_unpriced(
        list(left), field=next(field for field in changed if field in TARIFF_SCOPE_FIELDS)
    )


def tariff_update_check(
    *,
    tariff: Tariff,
    changes: Mapping[str, object],
    effective_from: datetime | None = None,
    now: datetime | None = None,
) -> None:
    """Raise the first rule that changing the saved `tariff` by `changes` would break, naming
    the field; changes nothing.

    Only the name, the scope (depot, station, connector), the validity window, the minimum and
    maximum prices and the parking grace change here. Nothing reaches back before now: the
    window's start moves only while it lies ahead, its end only while it has not passed, and
    neither to a moment before now; new prices take effect from now or a later
    `effective_from`, and not before a version published already takes effect; an
    `effective_from` is refused when the change publishes no version. Neither a new scope nor a
    shorter window (a later start, an earlier end) may leave a connector the tariff prices
    alone without any tariff.
    """
    now = now or timezone.now()
    refused = sorted(set(changes) - TARIFF_UPDATABLE_FIELDS)
    if refused:
        raise InvalidTariff(f"{refused[0]} cannot be changed on a tariff.", field=refused[0])
    for field in TARIFF_WINDOW_FIELDS:
        require_aware(changes.get(field), field=field)
    require_aware(effective_from, field="effective_from")
    changed = _tariff_changed_fields(tariff, changes)
    if set(changed) & set(TARIFF_SCOPE_FIELDS):
        _check_tariff_scope(tariff, changes, changed, now)
    if set(changed) & set(TARIFF_WINDOW_FIELDS):
        _check_tariff_window(tariff, changes, changed, now)
    if set(changed) & set(TARIFF_PRICE_FIELDS):
        _check_tariff_prices(tariff, changes)
    if (
        effective_from is not None
        and not set(changed) & set(TARIFF_PUBLISHED_FIELDS)
        and not _tariff_has_unpublished_terms(tariff)
    ):
        raise InvalidTariff(
            "effective_from only applies to price or validity changes; this change publishes "
            "no new version.",
            field="effective_from",
        )
    if effective_from is not None and effective_from < now:
        raise TariffChangeInPast(
            "A change cannot take effect before now; sessions already priced keep their price.",
            field="effective_from",
        )
    if set(changed) & set(TARIFF_PUBLISHED_FIELDS):
        tariff_version_order_check(tariff=tariff, effective_from=effective_from or now)


def _refuse_leaving_unpriced(
    connectors: list[Connector], *, field: str, since: str | None = None
) -> None:
    if not connectors:
        return
    names = ", ".join(str(connector) for connector in connectors[:5])
    if len(connectors) > 5:
        names += f" and {len(connectors) - 5} more"
    raise TariffStillNeeded(
        f"No other tariff prices charging at {names}{f' from {since}' if since else ''}; give "
        f"{'it' if len(connectors) == 1 else 'them'} another tariff first.",
        field=field,
    )


@transaction.atomic
def tariff_update(
    *,
    tariff: Tariff,
    changes: Mapping[str, object],
    effective_from: datetime | None = None,
) -> Tariff:
    """Change a tariff's fields (see tariff_update_check for which, and the rules) and publish
    what it now says as a new version, in force from `effective_from` (now by default), when
    that differs from the version published last: element rows saved before the call count
    too. Published versions never change, so sessions already priced keep their price.

    The fleet is locked first, so two changes cannot each leave the other's connectors without
    a tariff. Any refusal, a model rule included, saves nothing.
    """
    now = timezone.now()
    Fleet.objects.select_for_update().get(pk=tariff.fleet_id)
    tariff = Tariff.objects.select_for_update().select_related("fleet").get(pk=tariff.pk)
    tariff_update_check(tariff=tariff, changes=changes, effective_from=effective_from, now=now)
    changed = _tariff_changed_fields(tariff, changes)
    for field in changed:
        setattr(tariff, field, changes[field])
    tariff.full_clean()
    if changed:
        tariff.save(update_fields=[*changed, "updated_at"])
    published = None
    if _tariff_has_unpublished_terms(tariff):
        tariff_version_order_check(tariff=tariff, effective_from=effective_from or now)
        published = tariff_publish(tariff=tariff, effective_from=effective_from or now)
    logger.info(
        "charging.tariff_updated",
        extra={
            "tariff_id": tariff.pk,
            "fields": changed,
            "version": published.number if published else None,
        },
    )
    return tariff


@transaction.atomic
def tariff_deactivate(*, tariff: Tariff) -> Tariff:
    """Stop a tariff pricing sessions: from now on pricing passes it over for the next most
    specific active tariff. Its versions stay, and sessions it priced keep their price.

    Refused, changing nothing, while a connector it prices would be left without any tariff
    (give the connector another tariff first). Deactivating it again changes nothing.
    """
    now = timezone.now()
    Fleet.objects.select_for_update().get(pk=tariff.fleet_id)
    tariff = Tariff.objects.select_for_update().get(pk=tariff.pk)
    if not tariff.is_active:
        return tariff
    _refuse_leaving_unpriced(
        list(connector_list_priced_only_by(tariff=tariff, at=now)), field="is_active"
    )
    tariff.is_active = False
    tariff.save(update_fields=["is_active", "updated_at"])
    logger.info("charging.tariff_deactivated", extra={"tariff_id": tariff.pk})
    return tariff


@transaction.atomic
def tariff_activate(*, tariff: Tariff) -> Tariff:
    """Let a deactivated tariff price sessions again, with the versions it has; activating an
    active tariff changes nothing."""
    tariff = Tariff.objects.select_for_update().get(pk=tariff.pk)
    if tariff.is_active:
        return tariff
    tariff.is_active = True
    tariff.save(update_fields=["is_active", "updated_at"])
    logger.info("charging.tariff_activated", extra={"tariff_id": tariff.pk})
    return tariff


@dataclass(frozen=True)
class ImportReport:
    """What an import did: rows read, sessions made, rows already imported, and every error."""

    rows: int
    imported: int
    already_imported: int
    errors: tuple[RowError, ...]

    @property
    def refused(self) -> bool:
        return bool(self.errors) and self.imported == 0


def _row_errors(
    fleet: Fleet, rows: Sequence[PublicSessionRow]
) -> tuple[dict[int, ChargeToken], list[RowError]]:
    """The card each row was charged with, by line: the fleet's card with the row's UID that
    was valid at its start (a UID may have been reissued); an error for each row without one."""
    cards: dict[str, list[ChargeToken]] = {}
    for token in (
        ChargeToken.objects.filter(driver__fleet=fleet, uid__in={row.token_uid for row in rows})
        .select_related("driver")
        .order_by("valid_from", "pk")
    ):
        cards.setdefault(token.uid, []).append(token)
    row_tokens, errors = {}, []
    for row in rows:
        if row.currency != fleet.currency:
            errors.append(
                RowError(
                    row.line,
                    f"currency {row.currency} is not the fleet's {fleet.currency}; "
                    "billing charges drivers in the fleet's currency",
                )
            )
            continue
        if row.token_uid not in cards:
            errors.append(RowError(row.line, f"token {row.token_uid} is not a card of this fleet"))
            continue
        valid = [
            token
            for token in cards[row.token_uid]
            if token.valid_from <= row.started_at
            and (token.valid_until is None or row.started_at < token.valid_until)
        ]
        if not valid:
            errors.append(RowError(row.line, f"token {row.token_uid} was not valid at the start"))
            continue
        row_tokens[row.line] = valid[-1]
    return row_tokens, errors


def public_sessions_import(
    *, fleet: Fleet, content: bytes, file_format: str, only_valid_rows: bool = False
) -> ImportReport:
    """Import a provider's public charging sessions from OCPI CDR JSON or the documented CSV.

    The whole file is checked first. With any bad row nothing is imported, unless the user
    chose to import only the valid rows. Refused besides malformed rows: a session that starts
    or ends in the future (beyond CLOCK_SKEW), energy below 1 Wh before rounding or that no charger
    delivers in the time, and a session that overlaps another on the same card, in the file or
    stored. A CDR already imported into this fleet is skipped, so importing a file twice imports
    nothing new; one imported into another fleet is a bad row. The provider's cost becomes the
    session's price: its net and its VAT each rounded once to the fleet's currency, the gross
    their sum.

    The file is read before the fleet is locked: the lock is held only while the rows are
    checked against what is stored and written, in one transaction, with a fixed number of
    queries whatever the number of rows.
    """
    parsed = _parsed_file(content, file_format)
    return _public_sessions_write(fleet=fleet, parsed=parsed, only_valid_rows=only_valid_rows)


def _parsed_file(
    content: bytes, file_format: str, on_progress: Callable[[int], None] | None = None
) -> ParsedFile:
    parse = parse_cdr_json if file_format == "json" else parse_csv
    return parse(content, on_progress=on_progress)


def _session_import_progress_record(session_import_id: int, rows_done: int) -> None:
    """Record how many rows of a running import are read and checked, committed at once (the
    file is read outside the import's transaction), so that its page follows them."""
    SessionImport.objects.filter(pk=session_import_id).update(
        rows_done=rows_done, updated_at=timezone.now()
    )


def _record_outcome(session_import: SessionImport, report: ImportReport) -> None:
    session_import.status = (
        SessionImportStatus.REFUSED if report.refused else SessionImportStatus.DONE
    )
    session_import.rows_total = session_import.rows_done = report.rows
    session_import.imported = report.imported
    session_import.already_imported = report.already_imported
    session_import.errors = [
        {"line": error.line, "reason": error.reason} for error in report.errors
    ]
    session_import.finished_at = timezone.now()


def session_import_report(session_import: SessionImport) -> ImportReport:
    """A finished import's outcome, as `public_sessions_import` reports it."""
    return ImportReport(
        session_import.rows_total,
        session_import.imported,
        session_import.already_imported,
        tuple(RowError(error["line"], error["reason"]) for error in session_import.errors),
    )


def session_import_start(
    *,
    fleet: Fleet,
    content: bytes,
    file_name: str,
    only_valid_rows: bool = False,
    requested_by=None,
) -> SessionImport:
    """Import a provider's file uploaded in the admin (.csv: the documented CSV, else OCPI CDR
    JSON) and keep it with its outcome, as `public_sessions_import` does.

    A file of up to IMPORT_INLINE_MAX_ROWS rows is imported at once, its outcome recorded in
    the same transaction. A larger one is queued: the `import_public_sessions` task imports it
    after commit, and the returned row shows its progress."""
    file_format = (
        ImportFileFormat.CSV if file_name.lower().endswith(".csv") else ImportFileFormat.JSON
    )
    session_import = SessionImport(
        fleet=fleet,
        requested_by=requested_by,
        file_name=file_name[: SessionImport._meta.get_field("file_name").max_length],
        file_format=file_format,
        content=content,
        only_valid_rows=only_valid_rows,
    )
    parsed = _parsed_file(content, file_format)
    if parsed.row_count > settings.IMPORT_INLINE_MAX_ROWS:
        session_import.rows_total = parsed.row_count
        with transaction.atomic():
            session_import.save()
            transaction.on_commit(lambda: _enqueue_session_import(session_import.pk))
        logger.info(
            "charging.session_import_queued",
            extra={"session_import_id": session_import.pk, "rows": parsed.row_count},
        )
        return session_import
    with transaction.atomic():
        session_import.started_at = timezone.now()
        report = _public_sessions_write(fleet=fleet, parsed=parsed, only_valid_rows=only_valid_rows)
        _record_outcome(session_import, report)
        session_import.save()
    return session_import


def _enqueue_session_import(session_import_id: int) -> None:
    from apps.charging.tasks import import_public_sessions

    import_public_sessions.delay(session_import_id)


def session_import_run(*, session_import_id: int) -> SessionImport:
    """Import a queued file (the task's work): read it, recording its rows done every
    PROGRESS_EVERY rows as they are read and checked, then check it against what is stored
    and write its sessions with its outcome in one transaction, under the fleet's lock. An
    import that is done or refused is left as it is, so a task delivered twice imports once;
    one that failed or was cut off (its transaction rolled back) runs again. An unexpected
    error marks it failed, with nothing of it written, and is raised again."""
    session_import = SessionImport.objects.select_related("fleet").get(pk=session_import_id)
    if session_import.status in (SessionImportStatus.DONE, SessionImportStatus.REFUSED):
        return session_import
    session_import.status = SessionImportStatus.RUNNING
    session_import.started_at = timezone.now()
    session_import.error = ""
    session_import.save(update_fields=["status", "started_at", "error", "updated_at"])
    try:
        parsed = _parsed_file(
            bytes(session_import.content),
            session_import.file_format,
            on_progress=partial(_session_import_progress_record, session_import.pk),
        )
        with transaction.atomic():
            # A second delivery of the task running at once waits here, then finds it done.
            locked = SessionImport.objects.select_for_update().get(pk=session_import.pk)
            if locked.status in (SessionImportStatus.DONE, SessionImportStatus.REFUSED):
                return locked
            report = _public_sessions_write(
                fleet=session_import.fleet,
                parsed=parsed,
                only_valid_rows=session_import.only_valid_rows,
            )
            _record_outcome(session_import, report)
            session_import.save()
    except Exception as error:
        session_import.status = SessionImportStatus.FAILED
        session_import.error = f"{type(error).__name__}: {error}"
        session_import.finished_at = timezone.now()
        session_import.save(update_fields=["status", "error", "finished_at", "updated_at"])
        logger.exception(
            "charging.session_import_failed", extra={"session_import_id": session_import.pk}
        )
        raise
    logger.info(
        "charging.session_import_finished",
        extra={"session_import_id": session_import.pk, "status": session_import.status},
    )
    return session_import


def _stored_sessions_of_cards(
    fleet: Fleet, rows: Sequence[PublicSessionRow]
) -> list[StoredSession]:
    """The fleet's valid sessions on the rows' cards that may overlap one of the rows."""
    if not rows:
        return []
    sessions = (
        ChargingSession.objects.filter(
            fleet=fleet,
            token__uid__in={row.token_uid for row in rows},
            started_at__lt=max(row.ended_at for row in rows),
        )
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=min(row.started_at for row in rows)))
        .exclude(status=SessionStatus.INVALID)
        .values_list("pk", "token__uid", "started_at", "ended_at")
    )
    return [StoredSession(*values) for values in sessions]


@transaction.atomic
def _public_sessions_write(
    *, fleet: Fleet, parsed: ParsedFile, only_valid_rows: bool
) -> ImportReport:
    fleet = Fleet.objects.select_for_update().get(pk=fleet.pk)
    row_tokens, errors = _row_errors(fleet, parsed.rows)
    imported_into = dict(
        ChargingSession.objects.filter(
            source=SessionSource.IMPORT, external_id__in=[row.cdr_id for row in parsed.rows]
        ).values_list("external_id", "fleet_id")
    )
    errors.extend(
        RowError(row.line, f"CDR id {row.cdr_id} was imported into another fleet")
        for row in parsed.rows
        if imported_into.get(row.cdr_id, fleet.pk) != fleet.pk
    )
    errors.extend(future_row_errors(parsed.rows, latest=timezone.now() + CLOCK_SKEW))
    bad_lines = {error.line for error in [*parsed.errors, *errors]}
    good_rows = [row for row in parsed.rows if row.line not in bad_lines]
    new_rows = [row for row in good_rows if row.cdr_id not in imported_into]
    already_imported = len(good_rows) - len(new_rows)
    overlaps = overlapping_row_errors(new_rows)
    overlaps.extend(stored_overlap_errors(new_rows, _stored_sessions_of_cards(fleet, new_rows)))
    overlapping_lines = {error.line for error in overlaps}
    new_rows = [row for row in new_rows if row.line not in overlapping_lines]
    errors = sorted([*parsed.errors, *errors, *overlaps], key=lambda error: error.line)
    if errors and not only_valid_rows:
        return ImportReport(parsed.row_count, 0, already_imported, tuple(errors))
    moments_by_driver: dict[int, list[datetime]] = {}
    for row in new_rows:
        moments_by_driver.setdefault(row_tokens[row.line].driver_id, []).append(row.started_at)
    assignments = vehicle_assignments_at_for_drivers(moments_by_driver=moments_by_driver)
    now = timezone.now()
    sessions = []
    for row in new_rows:
        token = row_tokens[row.line]
        assignment = assignments[(token.driver_id, row.started_at)]
        vehicle = assignment.vehicle if assignment else None
        session = ChargingSession(
            fleet=fleet,
            driver=token.driver,
            vehicle=vehicle,
            cost_center_id=cost_center_at_start(token.driver, vehicle),
            token=token,
            location_kind=LocationKind.PUBLIC,
            purpose=row.purpose or SessionPurpose.BUSINESS,
            started_at=row.started_at,
            ended_at=row.ended_at,
            energy_wh=row.energy_wh,
            status=SessionStatus.COMPLETED,
            source=SessionSource.IMPORT,
            external_id=row.cdr_id,
            price_basis=PriceBasis.PROVIDER,
            price_currency=row.currency,
            price_breakdown={"provider": row.document or {"location": row.location}},
            priced_at=now,
        )
        if row.cost is not None:
            amounts = vat_amounts_of_excl_incl(
                row.cost.excl_vat,
                row.cost.incl_vat if row.cost.incl_vat is not None else row.cost.excl_vat,
                row.currency,
            )
            session.price_excl_vat, session.price_vat, session.price_incl_vat = amounts
        # Whether a public charger was AC or DC is not known: the vehicle's faster limit holds.
        limits = [kw for kw in (vehicle.max_ac_kw, vehicle.max_dc_kw) if kw] if vehicle else []
        session.suspect_reason = implausible_energy_reason(
            energy_wh=row.energy_wh,
            seconds=Decimal((row.ended_at - row.started_at).total_seconds()),
            max_power_kw=max(limits, default=None),
            battery_kwh=vehicle.usable_battery_kwh if vehicle else None,
        )
        session.is_suspect = bool(session.suspect_reason)
        sessions.append(session)
    ChargingSession.objects.bulk_create(sessions)
    logger.info(
        "charging.public_sessions_imported",
        extra={"fleet_id": fleet.pk, "imported": len(sessions), "errors": len(errors)},
    )
    return ImportReport(parsed.row_count, len(sessions), already_imported, tuple(errors))


def _assigned_vehicle(driver: Driver, moment: datetime) -> Vehicle | None:
    assignment = vehicle_assignment_for_driver_at(driver=driver, moment=moment)
    return assignment.vehicle if assignment else None


def _tariff_decimals_with_columns(
    terms: TariffTerms,
) -> Iterator[tuple[models.DecimalField, Decimal | None, str]]:
    """Each decimal of the terms with the column that stores it and its path in the OCPI
    document (the parser keeps the document's order of elements and components)."""
    for bound in ("min", "max"):
        price = getattr(terms, f"{bound}_price")
        for vat in ("excl_vat", "incl_vat"):
            yield (
                Tariff._meta.get_field(f"{bound}_price_{vat}"),
                getattr(price, vat) if price else None,
                f"tariff.{bound}_price.{vat}",
            )
    column = TariffElement._meta.get_field
    for index, element in enumerate(terms.elements):
        path = f"tariff.elements[{index}]"
        for position, component in enumerate(element.components):
            prefix = ELEMENT_COLUMN_PREFIX[component.dimension]
            component_path = f"{path}.price_components[{position}]"
            yield column(f"{prefix}_price"), component.price, f"{component_path}.price"
            yield column(f"{prefix}_vat_rate"), component.vat_rate, f"{component_path}.vat"
        for key, name in RESTRICTION_COLUMNS.items():
            value = getattr(element.restrictions, key) if element.restrictions else None
            yield column(name), value, f"{path}.restrictions.{key}"


def tariff_terms_storable_check(terms: TariffTerms) -> None:
    """Raise, naming its path in the OCPI document, the first number of the terms that its
    column cannot hold as it is: too many digits before the point, or more decimals than the
    column keeps (a price is never rounded silently). Whole numbers (steps, durations, the
    parking grace) are bounded by the parser far below their columns' limit."""
    for column, value, path in _tariff_decimals_with_columns(terms):
        if value is None:
            continue
        whole_digits = column.max_digits - column.decimal_places
        if abs(value) >= Decimal(10) ** whole_digits:
            raise InvalidTariff(
                f"{path} must be below {10**whole_digits}, got {value}.", field=path
            )
        if value != value.quantize(Decimal(1).scaleb(-column.decimal_places)):
            raise InvalidTariff(
                f"{path} has more than {column.decimal_places} decimals, got {value}.",
                field=path,
            )


@transaction.atomic
def tariff_import_ocpi(*, fleet: Fleet, document: dict, name: str = "") -> tuple[Tariff, bool]:
    """Create or update the fleet's tariff with the document's OCPI id, and publish it.
    Returns the tariff and whether this import created it.

    Elements restricted to reservations are left out: Voltop prices no reservations, and
    pricing never applies them to a charging session. Importing terms equal to the latest
    version's publishes no new version, so importing a file twice changes nothing. A tariff in
    another currency than the fleet's is refused: billing charges in the fleet's currency.

    The document is refused whole, naming the JSON path, before anything is saved: what the
    OCPI parser refuses (among them a VAT rate above 100 and a minimum price above the
    maximum) and any number its column cannot hold as given.
    """
    try:
        terms = tariff_terms_from_ocpi(document)
    except OcpiFormatError as error:
        raise InvalidTariff(error.message, field=error.field) from error
    _refuse_currency_not_fleets(terms.currency, fleet, field="tariff.currency")
    tariff_terms_storable_check(terms)
    ocpi_id = str(document.get("id") or "").strip()
    if not ocpi_id:
        raise InvalidTariff("tariff.id is required.", field="tariff.id")
    id_length = Tariff._meta.get_field("ocpi_id").max_length
    if len(ocpi_id) > id_length:
        raise InvalidTariff(f"tariff.id is longer than {id_length} characters.", field="tariff.id")
    elements = [
        element
        for element in terms.elements
        if element.restrictions is None or element.restrictions.reservation is None
    ]
    if not elements:
        raise InvalidTariff(
            "tariff.elements price only reservations; Voltop prices charging sessions.",
            field="tariff.elements",
        )
    tariff, created = Tariff.objects.select_for_update().get_or_create(
        fleet=fleet,
        ocpi_id=ocpi_id,
        defaults={"name": name or f"OCPI tariff {ocpi_id}", "currency": terms.currency},
    )
    if name:
        tariff.name = name
    tariff.currency = terms.currency
    tariff.min_price_excl_vat = terms.min_price.excl_vat if terms.min_price else None
    tariff.min_price_incl_vat = terms.min_price.incl_vat if terms.min_price else None
    tariff.max_price_excl_vat = terms.max_price.excl_vat if terms.max_price else None
    tariff.max_price_incl_vat = terms.max_price.incl_vat if terms.max_price else None
    tariff.parking_grace_minutes = terms.parking_grace_seconds // 60
    tariff.save()
    tariff.elements.all().delete()
    TariffElement.objects.bulk_create(
        [
            TariffElement(tariff=tariff, position=position, **tariff_element_fields(element))
            for position, element in enumerate(elements)
        ]
    )
    latest = tariff_latest_version(tariff)
    if latest is None or tariff_terms_of_version(latest) != tariff_terms_of_model(tariff):
        tariff_publish(tariff=tariff)
    return tariff, created


def charging_session_provider_cost_check(
    *, location_kind: str, status: str, currency: str, provider_cost: Price | None
) -> None:
    """Raise the first rule a provider's cost a manager gives breaks, naming its field: only a
    completed public session has one, not negative, incl. VAT not below excl. VAT, and in
    whole minor units of the fleet's `currency`."""
    if provider_cost is None:
        return
    if location_kind != LocationKind.PUBLIC or status != SessionStatus.COMPLETED:
        raise ProviderCostInvalid(
            "Only a completed public session has a provider's cost; the others are priced by "
            "their tariff or the driver's home rate.",
            field="provider_cost_excl_vat",
        )
    incl_vat = provider_cost.excl_vat if provider_cost.incl_vat is None else provider_cost.incl_vat
    for field, amount in (
        ("provider_cost_excl_vat", provider_cost.excl_vat),
        ("provider_cost_incl_vat", incl_vat),
    ):
        if amount < 0:
            raise ProviderCostInvalid("A cost cannot be negative.", field=field)
        if amount != round_money(amount, currency):
            raise ProviderCostInvalid(
                f"The cost has more decimals than {currency} allows (smallest unit "
                f"{currency_minor_unit(currency)}).",
                field=field,
            )
    if incl_vat < provider_cost.excl_vat:
        raise ProviderCostInvalid(
            "The cost incl. VAT is below the cost excl. VAT.", field="provider_cost_incl_vat"
        )


def _price_at_provider_cost(session: ChargingSession, provider_cost: Price, now: datetime) -> None:
    currency = session.fleet.currency
    amounts = vat_amounts_of_excl_incl(
        provider_cost.excl_vat,
        provider_cost.excl_vat if provider_cost.incl_vat is None else provider_cost.incl_vat,
        currency,
    )
    if session.price_basis == PriceBasis.PROVIDER and (
        session.price_currency,
        session.price_excl_vat,
        session.price_vat,
        session.price_incl_vat,
    ) == (currency, *amounts):
        return
    _clear_price(session)
    session.price_basis = PriceBasis.PROVIDER
    session.price_currency = currency
    session.price_excl_vat, session.price_vat, session.price_incl_vat = amounts
    session.price_breakdown = {"provider": {"entered_by_manager": True}}
    session.priced_at = now


@transaction.atomic
def charging_session_save_by_manager(
    *, session: ChargingSession, provider_cost: Price | None = None
) -> ChargingSession:
    """Save a session a manager entered or edited by hand; a completed one is checked for
    plausibility and priced after commit. A billed session is refused.

    A session a charger started with an unknown tag gets its driver here: with it, the vehicle
    assigned to the driver at its start (unless one is given) and the driver's cost center.

    A completed public session is priced at the provider's cost the manager gives, in the
    fleet's currency. Without one it keeps the cost it has (an imported provider's cost), or
    else is saved with its cost pending: left out of billing, and listed as such, until a
    manager gives the cost. A session stays in its fleet (FieldFixed).
    """
    if session.pk is not None:
        stored = _lock_session(session)
        _refuse_if_billed(stored)
        if stored.fleet_id != session.fleet_id:
            raise FieldFixed(
                "A charging session stays in the fleet it was recorded in; its fleet cannot be "
                "changed.",
                field="fleet",
            )
        if stored.driver_id is None and session.driver_id is not None:
            _attribute_to_driver(session)
        if (stored.meter_start_wh, stored.meter_stop_wh, stored.energy_wh) != (
            session.meter_start_wh,
            session.meter_stop_wh,
            session.energy_wh,
        ):
            session.energy_source = EnergySource.ENTERED
    else:
        session.cost_center_id = cost_center_at_start(session.driver, session.vehicle)
        session.energy_source = EnergySource.ENTERED
    charging_session_provider_cost_check(
        location_kind=session.location_kind,
        status=session.status,
        currency=session.fleet.currency,
        provider_cost=provider_cost,
    )
    completed = session.status == SessionStatus.COMPLETED
    if completed and session.ended_at and session.energy_wh is not None:
        _flag_if_implausible(session)
    public = session.location_kind == LocationKind.PUBLIC
    if completed and public and provider_cost is not None:
        _price_at_provider_cost(session, provider_cost, timezone.now())
    elif completed and public and session.price_basis != PriceBasis.PROVIDER:
        _clear_price(session)
        session.unpriced_reason = UnpricedReason.COST_PENDING
    session.save()
    if completed and not public:
        _enqueue_pricing(session)
    return session


def _attribute_to_driver(session: ChargingSession) -> None:
    driver = Driver.objects.select_for_update().get(pk=session.driver_id)
    if driver.fleet_id != session.fleet_id:
        raise OtherFleet("No such driver in the session's fleet.", field="driver")
    if session.vehicle_id is None:
        session.vehicle = vehicle_for_session_start(driver, None, session.started_at)
    session.cost_center_id = cost_center_at_start(driver, session.vehicle)
    logger.info(
        "charging.session_attributed", extra={"session_id": session.pk, "driver_id": driver.pk}
    )


# Stations and connectors --------------------------------------------------------------------


def charging_station_identity_check(*, ocpp_identity: str, exclude_pk: int | None = None) -> None:
    """Refuse an OCPP identity another station has (the database holds the same rule)."""
    if ChargingStation.objects.filter(ocpp_identity=ocpp_identity).exclude(pk=exclude_pk).exists():
        raise StationIdentityInUse(
            f"Another station already connects with the OCPP identity {ocpp_identity}.",
            field="ocpp_identity",
        )


def _station_save_checked(station: ChargingStation, changes: dict) -> None:
    """fields_save_checked(), after the identity check; an identity taken meanwhile by
    another request is refused the same way, not as a database error."""
    fields_save_checked(
        station,
        changes,
        clash_check=lambda: charging_station_identity_check(
            ocpp_identity=station.ocpp_identity, exclude_pk=station.pk
        ),
    )


@transaction.atomic
def charging_station_create(
    *,
    fleet: Fleet,
    ocpp_identity: str,
    vendor: str,
    model: str,
    depot: Depot | None = None,
    serial_number: str = "",
    firmware_version: str = "",
) -> ChargingStation:
    """Add a charger to `fleet` after the model's checks (OCPP identity unique, depot of the
    same fleet). Its status and heartbeat come from the charger once it connects. An identity
    another station has is refused (StationIdentityInUse on "ocpp_identity"), also when another
    request takes it at the same moment."""
    station = ChargingStation(fleet=fleet)
    _station_save_checked(
        station,
        {
            "ocpp_identity": ocpp_identity,
            "vendor": vendor,
            "model": model,
            "depot": depot,
            "serial_number": serial_number,
            "firmware_version": firmware_version,
        },
    )
    logger.info("charging.station_created", extra={"fleet_id": fleet.pk, "station_id": station.pk})
    return station


@transaction.atomic
def charging_station_update(*, station: ChargingStation, changes: dict) -> ChargingStation:
    """Change a charger's depot, identity or details after the checks of
    charging_station_create; it stays in its fleet: a change of fleet is refused (FieldFixed)
    and nothing changes."""
    fixed_fields_check(
        ChargingStation,
        changes,
        {
            "fleet": "A charging station stays in the fleet it was made "
            "in; its fleet cannot be changed."
        },
    )
    station = ChargingStation.objects.select_for_update().get(pk=station.pk)
    _station_save_checked(station, changes)
    return station


def connector_id_check(
    *, station_id: int, connector_id: int, exclude_pk: int | None = None
) -> None:
    """Refuse a connector id another connector of the station has (the database holds the
    same rule)."""
    clash = Connector.objects.filter(station_id=station_id, connector_id=connector_id)
    if clash.exclude(pk=exclude_pk).exists():
        raise ConnectorIdInUse(
            f"The station already has a connector {connector_id}.", field="connector_id"
        )


def _connector_save_checked(connector: Connector, changes: dict) -> None:
    """fields_save_checked(), after the connector id check; an id taken meanwhile by another
    request is refused the same way, not as a database error. An EVSE id is kept as chargers
    print it, in upper case."""
    if "evse_id" in changes:
        changes = {**changes, "evse_id": (changes["evse_id"] or "").strip().upper()}
    fields_save_checked(
        connector,
        changes,
        clash_check=lambda: connector_id_check(
            station_id=connector.station_id,
            connector_id=connector.connector_id,
            exclude_pk=connector.pk,
        ),
    )


@transaction.atomic
def connector_create(
    *,
    station: ChargingStation,
    connector_id: int,
    standard: str,
    power_type: str,
    max_kw,
    evse_id: str = "",
) -> Connector:
    """Add an outlet to `station` after the model's checks (numbered from 1, unique on the
    station, a known standard and power type, a power above 0). A connector id the station
    has is refused (ConnectorIdInUse on "connector_id"), also when another request takes it at
    the same moment."""
    connector = Connector(station=station)
    _connector_save_checked(
        connector,
        {
            "connector_id": connector_id,
            "evse_id": evse_id,
            "standard": standard,
            "power_type": power_type,
            "max_kw": max_kw,
        },
    )
    return connector


@transaction.atomic
def connector_update(*, connector: Connector, changes: dict) -> Connector:
    """Change an outlet's number, standard, power type or power after the checks of
    connector_create; it stays on its station."""
    if {"station", "station_id"} & set(changes):
        raise ValueError("connector_update does not move a connector to another station.")
    connector = Connector.objects.select_for_update().get(pk=connector.pk)
    _connector_save_checked(connector, changes)
    return connector


def charging_station_delete_check(*, station: ChargingStation) -> None:
    """Refuse to delete a station that tariffs or sessions refer to, itself or through its
    connectors: its history stays."""
    references = rows_referring_to(
        ChargingStation.objects.filter(pk=station.pk), except_through={"connectors"}
    ) or rows_referring_to(Connector.objects.filter(station_id=station.pk))
    if references:
        raise StationInUse(
            f"Station {station} cannot be deleted: it or its connectors are still referred to "
            f"by {referring_rows_text(references)}."
        )


@transaction.atomic
def charging_station_delete(*, station: ChargingStation) -> None:
    """Delete a station nothing refers to, with its connectors; one in use is refused and
    kept. The station and its connectors are locked first, so no session can start on them
    while they are judged."""
    station = ChargingStation.objects.select_for_update().get(pk=station.pk)
    list(Connector.objects.select_for_update().filter(station=station).order_by("pk"))
    charging_station_delete_check(station=station)
    station_id = station.pk
    Connector.objects.filter(station_id=station_id).delete()
    station.delete()
    logger.info(
        "charging.station_deleted", extra={"fleet_id": station.fleet_id, "station_id": station_id}
    )


def connector_delete_check(*, connector: Connector) -> None:
    """Refuse to delete a connector that sessions or tariffs refer to."""
    references = rows_referring_to(Connector.objects.filter(pk=connector.pk))
    if references:
        raise ConnectorInUse(
            f"Connector {connector} cannot be deleted: it is still referred to by "
            f"{referring_rows_text(references)}."
        )


@transaction.atomic
def connector_delete(*, connector: Connector) -> None:
    """Delete a connector nothing refers to; one in use is refused and kept. The row is
    locked first, so no session can start on it while it is judged."""
    connector = Connector.objects.select_for_update().get(pk=connector.pk)
    connector_delete_check(connector=connector)
    connector_id = connector.pk
    connector.delete()
    logger.info("charging.connector_deleted", extra={"connector_id": connector_id})


# Tariffs and their elements -----------------------------------------------------------------


@transaction.atomic
def tariff_create(*, fleet: Fleet, **fields) -> Tariff:
    """Add a tariff to `fleet` after the model's checks; it prices nothing until its elements
    are added and it is published (tariff_publish)."""
    tariff = Tariff(fleet=fleet)
    fields_save_checked(tariff, fields)
    logger.info("charging.tariff_created", extra={"fleet_id": fleet.pk, "tariff_id": tariff.pk})
    return tariff


def _check_tariff_elements_changeable(tariff: Tariff) -> None:
    """Refuse changing a published tariff's elements while one of its versions takes effect
    later: the change would be published before it and lost."""
    tariff_version_order_check(tariff=tariff, effective_from=timezone.now())


@transaction.atomic
def tariff_element_create(*, tariff: Tariff, **fields) -> TariffElement:
    """Add an element to a tariff after the model's checks; the tariff publishes it with its
    next version."""
    tariff = Tariff.objects.select_for_update().get(pk=tariff.pk)
    _check_tariff_elements_changeable(tariff)
    element = TariffElement(tariff=tariff)
    fields_save_checked(element, fields)
    return element


@transaction.atomic
def tariff_element_update(*, element: TariffElement, changes: dict) -> TariffElement:
    """Change an element's prices or restrictions after the model's checks; the tariff
    publishes them with its next version. An element stays with its tariff."""
    if {"tariff", "tariff_id"} & set(changes):
        raise ValueError("tariff_element_update does not move an element to another tariff.")
    tariff = Tariff.objects.select_for_update().get(pk=element.tariff_id)
    _check_tariff_elements_changeable(tariff)
    element = TariffElement.objects.select_for_update().get(pk=element.pk)
    element.tariff = tariff
    for name, value in changes.items():
        setattr(element, name, value)
    element.full_clean()
    if changes:
        element.save(update_fields=list(changes))
    return element


def tariff_element_delete_check(*, element: TariffElement) -> None:
    """Refuse to delete a tariff's last element (a tariff prices by its elements) or an
    element of a tariff whose next version takes effect later."""
    tariff = element.tariff
    _check_tariff_elements_changeable(tariff)
    if not tariff.elements.exclude(pk=element.pk).exists():
        raise TariffNeedsElement(
            f"Element {element} is the only element of {tariff}; a tariff needs at least one.",
            field="elements",
        )


@transaction.atomic
def tariff_element_delete(*, element: TariffElement) -> None:
    """Delete an element of a tariff that keeps another; the tariff publishes its terms
    without it with its next version. The tariff is locked first."""
    Tariff.objects.select_for_update().get(pk=element.tariff_id)
    element = TariffElement.objects.select_related("tariff__fleet").get(pk=element.pk)
    tariff_element_delete_check(element=element)
    element_id = element.pk
    element.delete()
    logger.info(
        "charging.tariff_element_deleted",
        extra={"tariff_id": element.tariff_id, "tariff_element_id": element_id},
    )


def tariff_delete_check(*, tariff: Tariff) -> None:
    """Refuse to delete a tariff that has been published: its versions price sessions and
    stay. Deactivating it is the way to retire it."""
    references = rows_referring_to(Tariff.objects.filter(pk=tariff.pk), except_through={"elements"})
    if references:
        raise TariffInUse(
            f"Tariff {tariff} cannot be deleted: it is still referred to by "
            f"{referring_rows_text(references)}. Deactivate it instead."
        )


@transaction.atomic
def tariff_delete(*, tariff: Tariff) -> None:
    """Delete a tariff never published, with its elements; a published one is refused and
    kept. The row is locked first, so it cannot be published while it is judged."""
    tariff = Tariff.objects.select_for_update().get(pk=tariff.pk)
    tariff_delete_check(tariff=tariff)
    tariff_id = tariff.pk
    TariffElement.objects.filter(tariff_id=tariff_id).delete()
    tariff.delete()
    logger.info(
        "charging.tariff_deleted", extra={"fleet_id": tariff.fleet_id, "tariff_id": tariff_id}
    )


# Deleting a session -------------------------------------------------------------------------


def charging_session_delete_check(*, session: ChargingSession) -> None:
    """Refuse to delete a billed session, or one that invoices, statements, cost allocations
    or reimbursements refer to: it is corrected or invalidated instead."""
    _refuse_if_billed(session)
    references = rows_referring_to(
        ChargingSession.objects.filter(pk=session.pk), except_through={"meter_values"}
    )
    if references:
        raise SessionInUse(
            f"Session {session.pk} cannot be deleted: it is still referred to by "
            f"{referring_rows_text(references)}. Invalidate it instead.",
            field="session",
        )


@transaction.atomic
def charging_session_delete(*, session: ChargingSession) -> None:
    """Delete a session entered by mistake, with its meter readings; a billed one, or one
    billing refers to, is refused and kept. The row is locked first, so it cannot be billed
    while it is judged."""
    session = _lock_session(session)
    charging_session_delete_check(session=session)
    session_id = session.pk
    MeterValue.objects.filter(session_id=session_id).delete()
    session.delete()
    logger.info(
        "charging.session_deleted", extra={"fleet_id": session.fleet_id, "session_id": session_id}
    )


@contextlib.contextmanager
def charging_day_totals_deferred(*, fleet: Fleet) -> Iterator[None]:
    """Write many sessions of `fleet` at once (a bulk load) without PostgreSQL's trigger summing
    each into the day totals, then sum the fleet's sessions again in one statement. Runs in one
    transaction, the only one the deferral holds for; it covers every session written in it,
    so only the fleet's own are to be written there. Elsewhere no totals are kept."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('voltop.day_totals_deferred', 'on', true)")
        yield
        cursor.execute("SELECT set_config('voltop.day_totals_deferred', 'off', true)")
        cursor.execute("SELECT charging_day_totals_rebuild(%s)", [fleet.pk])
