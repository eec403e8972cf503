"""Reads of the charging app: which tariff version prices a session, which connectors a tariff
prices, tariff terms, a driver's sessions, connectors, vehicles and tokens, and the sessions
still without a price."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache

from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.fields.files import FieldFile
from django.db.models.functions import Replace, TruncDate, Upper

from apps.charging.choices import (
    ConnectorStatus,
    HomeApproval,
    LocationKind,
    SessionPurpose,
    SessionStatus,
)
from apps.charging.consumption import (
    ChargedEnergy,
    Consumption,
    OdometerPoint,
    energy_per_100_km,
)
from apps.charging.exceptions import OtherFleet, TokenNotValid, TokenUnknown
from apps.charging.models import (
    ChargerCall,
    ChargingDayTotal,
    ChargingSession,
    ChargingStation,
    Connector,
    Tariff,
    TariffElement,
    TariffVersion,
)
from apps.charging.ocpi import tariff_terms_from_ocpi
from apps.charging.pricing import (
    ChargingPeriod,
    Dimension,
    PriceBreakdown,
    PriceComponent,
    TariffTerms,
    price_session,
)
from apps.charging.pricing import TariffElement as PricingElement
from apps.drivers.choices import TokenKind
from apps.drivers.models import ChargeToken, Driver
from apps.drivers.selectors import charge_token_list
from apps.fleets.models import Fleet
from apps.vehicles.models import OdometerReading, Vehicle
from voltop.core.money import kwh_of_wh

# A session charging longer than this is listed as work to do (a stop that never came).
CHARGING_LONG_HOURS = 24


def tariff_version_for_session(session: ChargingSession) -> TariffVersion | None:
    """The version in force at the session's start of the most specific active tariff of its
    fleet: its connector's, else its station's, its depot's, the fleet's."""
    connector = session.connector
    station = connector.station if connector else None
    started_at = session.started_at
    scopes = Q(connector__isnull=True, station__isnull=True, depot__isnull=True)
    specificity = Value(0)
    if station is not None and station.depot_id:
        scopes |= Q(connector__isnull=True, station__isnull=True, depot_id=station.depot_id)
    if station is not None:
        scopes |= Q(connector__isnull=True, station=station)
    if connector is not None:
        scopes |= Q(connector=connector)
    specificity = Case(
        When(connector__isnull=False, then=Value(3)),
        When(station__isnull=False, then=Value(2)),
        When(depot__isnull=False, then=Value(1)),
        default=Value(0),
    )
    version_in_force = (
        TariffVersion.objects.filter(tariff=OuterRef("pk"), effective_from__lte=started_at)
        .order_by("-effective_from", "-number")
        .values("pk")[:1]
    )
    tariff = (
        Tariff.objects.filter(scopes, fleet_id=session.fleet_id, is_active=True)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=started_at))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=started_at))
        .annotate(specificity=specificity, version_id=Subquery(version_in_force))
        .filter(version_id__isnull=False)
        .order_by("-specificity", F("valid_from").desc(nulls_last=True), "-pk")
        .values("version_id")
        .first()
    )
    return TariffVersion.objects.get(pk=tariff["version_id"]) if tariff else None


def home_rate_terms(*, currency: str, rate_per_kwh: Decimal) -> TariffTerms:
    """The terms of a home session: the driver's reimbursement per kWh, without VAT (a
    reimbursement, not a sale)."""
    return TariffTerms(
        currency=currency,
        elements=(PricingElement((PriceComponent(Dimension.ENERGY, rate_per_kwh, None, 1),)),),
    )


def tariff_terms_of_version(version: TariffVersion) -> TariffTerms:
    """The pricing terms a version froze."""
    return tariff_terms_from_ocpi(version.terms)


def _element_as_ocpi(element: TariffElement) -> dict:
    components = [
        {"type": dimension, "price": price, "vat": vat, "step_size": step}
        for dimension, price, vat, step in (
            ("FLAT", element.flat_price, element.flat_vat_rate, element.flat_step),
            ("ENERGY", element.energy_price, element.energy_vat_rate, element.energy_step_wh),
            ("TIME", element.time_price, element.time_vat_rate, element.time_step_seconds),
            (
                "PARKING_TIME",
                element.parking_price,
                element.parking_vat_rate,
                element.parking_step_seconds,
            ),
        )
        if price is not None
    ]
    restrictions = {
        "start_time": element.start_time.strftime("%H:%M") if element.start_time else None,
        "end_time": element.end_time.strftime("%H:%M") if element.end_time else None,
        "start_date": element.start_date.isoformat() if element.start_date else None,
        "end_date": element.end_date.isoformat() if element.end_date else None,
        "min_kwh": element.min_kwh,
        "max_kwh": element.max_kwh,
        "min_power": element.min_power_kw,
        "max_power": element.max_power_kw,
        "min_current": element.min_current_a,
        "max_current": element.max_current_a,
        "min_duration": element.min_duration_seconds,
        "max_duration": element.max_duration_seconds,
        "day_of_week": element.days_of_week or None,
    }
    restrictions = {key: value for key, value in restrictions.items() if value is not None}
    return {
        "price_components": components,
        **({"restrictions": restrictions} if restrictions else {}),
    }


def _price_as_ocpi(excl_vat, incl_vat) -> dict | None:
    if excl_vat is None:
        return None
    return {"excl_vat": excl_vat, **({"incl_vat": incl_vat} if incl_vat is not None else {})}


def tariff_as_ocpi_draft(tariff: Tariff) -> dict:
    """The tariff's current rows as an OCPI Tariff object, to be checked and frozen."""
    return {
        "id": tariff.ocpi_id,
        "currency": tariff.currency,
        "elements": [_element_as_ocpi(element) for element in tariff.elements.all()],
        "min_price": _price_as_ocpi(tariff.min_price_excl_vat, tariff.min_price_incl_vat),
        "max_price": _price_as_ocpi(tariff.max_price_excl_vat, tariff.max_price_incl_vat),
        "voltop_parking_grace_seconds": tariff.parking_grace_minutes * 60,
    }


def tariff_terms_of_model(tariff: Tariff) -> TariffTerms:
    """The terms a tariff's current rows describe, checked as an OCPI tariff would be."""
    return tariff_terms_from_ocpi(tariff_as_ocpi_draft(tariff))


def tariff_element_fields(element: PricingElement) -> dict:
    """Model fields of a TariffElement that say what a pricing element says."""
    fields: dict = {}
    columns = {
        Dimension.ENERGY: ("energy_price", "energy_vat_rate", "energy_step_wh"),
        Dimension.TIME: ("time_price", "time_vat_rate", "time_step_seconds"),
        Dimension.PARKING_TIME: ("parking_price", "parking_vat_rate", "parking_step_seconds"),
        Dimension.FLAT: ("flat_price", "flat_vat_rate", "flat_step"),
    }
    for component in element.components:
        price, vat, step = columns[component.dimension]
        fields[price] = component.price
        fields[vat] = component.vat_rate
        fields[step] = component.step_size
    r = element.restrictions
    if r is not None:
        fields.update(
            start_time=r.start_time,
            end_time=r.end_time,
            start_date=r.start_date,
            end_date=r.end_date,
            min_kwh=r.min_kwh,
            max_kwh=r.max_kwh,
            min_power_kw=r.min_power,
            max_power_kw=r.max_power,
            min_current_a=r.min_current,
            max_current_a=r.max_current,
            min_duration_seconds=r.min_duration,
            max_duration_seconds=r.max_duration,
            days_of_week=[day.name for day in sorted(r.day_of_week)],
        )
    return fields


def tariff_latest_version(tariff: Tariff) -> TariffVersion | None:
    """The version published last, which may take effect later than the one in force now."""
    return tariff.versions.order_by("-number").first()


def _ocpi_time(moment) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def charging_session_as_cdr(session: ChargingSession) -> dict:
    """The session as an OCPI 2.2.1 CDR: its periods, volumes and, when priced, its costs (the
    session's own cost, as its tariff or provider priced it). Money and energy are Decimals,
    to be written as exact JSON numbers (voltop.core.json_text)."""
    breakdown = session.price_breakdown or {}
    periods = [
        {
            "start_date_time": _ocpi_time(datetime.fromisoformat(period["start"])),
            "dimensions": [
                {"type": "ENERGY", "volume": Decimal(period["energy_wh"]).scaleb(-3)},
                {
                    "type": "TIME" if period["charging"] else "PARKING_TIME",
                    "volume": float(
                        (
                            datetime.fromisoformat(period["end"])
                            - datetime.fromisoformat(period["start"])
                        ).total_seconds()
                        / 3600
                    ),
                },
            ],
        }
        for period in breakdown.get("periods", [])
    ]
    ocpi = breakdown.get("ocpi", {})
    station = session.connector.station if session.connector else None
    cdr = {
        "country_code": str(session.fleet.country),
        "party_id": "VTP",
        "id": f"VT-{session.pk}",
        "start_date_time": _ocpi_time(session.started_at),
        "end_date_time": _ocpi_time(session.ended_at) if session.ended_at else None,
        "cdr_token": {
            "uid": session.token.uid if session.token else f"DRIVER-{session.driver_id}",
            "type": session.token.kind if session.token else "OTHER",
            "contract_id": session.driver.employee_number if session.driver_id else "",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": station.ocpp_identity if station else session.location_kind,
            "name": station.depot.name if station and station.depot else session.location_kind,
            "evse_uid": str(session.connector) if session.connector else None,
            "connector_id": str(session.connector.connector_id) if session.connector else None,
            "connector_standard": session.connector.standard if session.connector else None,
            "connector_power_type": session.connector.power_type if session.connector else None,
        },
        "currency": session.price_currency or session.fleet.currency,
        "tariffs": [session.tariff_version.terms] if session.tariff_version else [],
        "charging_periods": periods,
        "total_energy": kwh_of_wh(session.energy_wh or 0),
        "total_time": float(
            ((session.ended_at or session.started_at) - session.started_at).total_seconds() / 3600
        ),
        "last_updated": _ocpi_time(session.updated_at),
    }
    for field in (
        "total_fixed_cost",
        "total_energy_cost",
        "total_time_cost",
        "total_parking_cost",
    ):
        if field in ocpi:
            cdr[field] = {key: Decimal(value) for key, value in ocpi[field].items()}
    if session.price_excl_vat is not None:
        cdr["total_cost"] = {
            "excl_vat": session.price_excl_vat,
            "incl_vat": session.price_incl_vat,
        }
    if ocpi.get("total_parking_time"):
        cdr["total_parking_time"] = Decimal(ocpi["total_parking_time"])
    return {key: value for key, value in cdr.items() if value is not None}


def tariff_preview_price(
    *,
    tariff: Tariff,
    energy_wh: int,
    started_at: datetime,
    ended_at: datetime,
    parking_minutes: int = 0,
) -> PriceBreakdown:
    """What a session would cost under the tariff's current rows: charging from `started_at`
    with `energy_wh` spread evenly, the last `parking_minutes` plugged in without charging."""
    parking_from = max(started_at, ended_at - timedelta(minutes=parking_minutes))
    periods = []
    if parking_from > started_at:
        periods.append(ChargingPeriod(started_at, parking_from, Decimal(energy_wh), True))
    if ended_at > parking_from:
        periods.append(ChargingPeriod(parking_from, ended_at, Decimal(0), False))
    return price_session(
        terms=tariff_terms_of_model(tariff), periods=tuple(periods), zone=tariff.fleet.zone
    )


def tariff_version_in_force_prefetch(*, now: datetime) -> Prefetch:
    """Prefetch of each tariff's version in force at `now` (the latest that took effect by
    then) onto `tariff.versions_in_force`: a list of at most one, in one query for all."""
    return Prefetch(
        "versions",
        queryset=TariffVersion.objects.filter(effective_from__lte=now).order_by(
            "-effective_from", "-number"
        )[:1],
        to_attr="versions_in_force",
    )


def tariff_list_in_force(*, fleet_id: int, at: datetime) -> QuerySet[Tariff]:
    """The fleet's tariffs that can price a session starting at `at`: active, valid then, and
    with a version in force by then."""
    return (
        Tariff.objects.filter(fleet_id=fleet_id, is_active=True)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=at))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=at))
        .filter(Exists(TariffVersion.objects.filter(tariff=OuterRef("pk"), effective_from__lte=at)))
    )


def connector_list_in_tariff_scope(*, tariff: Tariff) -> QuerySet[Connector]:
    """The connectors a tariff applies to, as its fields say (saved or not): its connector, its
    station's, those at its depot, or every connector of its fleet."""
    if tariff.connector_id:
        return Connector.objects.filter(pk=tariff.connector_id)
    if tariff.station_id:
        return Connector.objects.filter(station_id=tariff.station_id)
    if tariff.depot_id:
        return Connector.objects.filter(station__depot_id=tariff.depot_id)
    return Connector.objects.filter(station__fleet_id=tariff.fleet_id)


def connector_list_priced_only_by(*, tariff: Tariff, at: datetime) -> QuerySet[Connector]:
    """The connectors `tariff` prices a session starting at `at` on and no other tariff of the
    fleet could: those that taking it away (deactivating it, moving it) would leave without a
    price. None when the tariff prices nothing at `at`."""
    in_force = tariff_list_in_force(fleet_id=tariff.fleet_id, at=at)
    if not in_force.filter(pk=tariff.pk).exists():
        return Connector.objects.none()
    covering = in_force.exclude(pk=tariff.pk).filter(
        Q(connector=OuterRef("pk"))
        | Q(connector__isnull=True, station=OuterRef("station"))
        | Q(connector__isnull=True, station__isnull=True, depot=OuterRef("station__depot"))
        | Q(connector__isnull=True, station__isnull=True, depot__isnull=True)
    )
    return (
        connector_list_in_tariff_scope(tariff=tariff)
        .filter(~Exists(covering))
        .select_related("station")
        .order_by("station__ocpp_identity", "connector_id")
    )


def charging_session_list_unpriced(
    sessions: QuerySet[ChargingSession], *, reason: str | None = None
) -> QuerySet[ChargingSession]:
    """Of `sessions` (a fleet's, as the caller may see them), the completed ones not billed yet
    that have no price: billing leaves them out until they have one. With `reason`, only those
    pricing left without a price for that UnpricedReason, or, with "", those whose pricing
    has not run yet (the sweep prices them)."""
    unpriced = sessions.filter(
        status=SessionStatus.COMPLETED, billed_at__isnull=True, price_incl_vat__isnull=True
    )
    return unpriced if reason is None else unpriced.filter(unpriced_reason=reason)


def charging_session_list_other_currency(
    sessions: QuerySet[ChargingSession], *, currency: str | None = None
) -> QuerySet[ChargingSession]:
    """Of `sessions`, the completed ones not billed yet that are priced in another currency
    than `currency` (their own fleet's, when None): billing leaves them out until a manager
    prices them again in the fleet's currency. Given the currency, the condition reads as two
    ranges of the partial index of unbilled priced sessions."""
    priced = sessions.filter(
        status=SessionStatus.COMPLETED, billed_at__isnull=True, price_incl_vat__isnull=False
    )
    if currency is None:
        return priced.exclude(price_currency=F("fleet__currency"))
    return priced.filter(Q(price_currency__lt=currency) | Q(price_currency__gt=currency))


def charging_session_list_home_unclaimed(
    sessions: QuerySet[ChargingSession],
) -> QuerySet[ChargingSession]:
    """Of `sessions`, the completed business charging at home not billed yet that nobody has
    claimed: billing leaves it out until the driver asks for it to be approved."""
    return sessions.filter(
        status=SessionStatus.COMPLETED,
        billed_at__isnull=True,
        location_kind=LocationKind.HOME,
        purpose=SessionPurpose.BUSINESS,
        home_approval=HomeApproval.NOT_REQUIRED,
    )


def charging_session_list_suspect(sessions: QuerySet[ChargingSession]) -> QuerySet[ChargingSession]:
    """Of `sessions`, the completed ones flagged suspect and not billed yet: a manager should
    look at them before billing does."""
    return sessions.filter(is_suspect=True, status=SessionStatus.COMPLETED, billed_at__isnull=True)


def charging_session_list_without_driver(
    sessions: QuerySet[ChargingSession],
) -> QuerySet[ChargingSession]:
    """Of `sessions`, those a charger started with a tag unknown to the fleet, neither given a
    driver nor invalidated yet: billing leaves them out until a manager does one or the other."""
    return sessions.filter(driver__isnull=True).exclude(status=SessionStatus.INVALID)


def charging_session_list_charger_issue(
    sessions: QuerySet[ChargingSession],
) -> QuerySet[ChargingSession]:
    """Of `sessions`, those with a driver that a charger reported with an issue a start from
    the app would have been refused for (a blocked tag, a second session, an interruption),
    not billed or invalidated yet."""
    return (
        sessions.filter(driver__isnull=False, billed_at__isnull=True)
        .exclude(charger_issue="")
        .exclude(status=SessionStatus.INVALID)
    )


def charging_station_list_offline(
    stations: QuerySet[ChargingStation],
) -> QuerySet[ChargingStation]:
    """Of `stations`, those set up to connect over OCPP (they have a password) that are not
    connected now."""
    return stations.exclude(ocpp_password="").filter(is_connected=False)


def connector_list_faulted(connectors: QuerySet[Connector]) -> QuerySet[Connector]:
    """Of `connectors`, those whose charger last reported them Faulted."""
    return connectors.filter(status=ConnectorStatus.FAULTED)


def charging_session_list_charging_long(
    sessions: QuerySet[ChargingSession], *, now: datetime
) -> QuerySet[ChargingSession]:
    """Of `sessions`, those still charging CHARGING_LONG_HOURS after they started: most often a
    stop the charger or the app never sent. Billing leaves them out as still charging until
    someone stops or corrects them."""
    return sessions.filter(
        status=SessionStatus.ACTIVE, started_at__lt=now - timedelta(hours=CHARGING_LONG_HOURS)
    )


def charging_session_unpriced_counts(sessions: QuerySet[ChargingSession]) -> dict[str, int]:
    """How many of `sessions` are left without a price, by unpriced reason ("" for those whose
    pricing has not run yet); reasons no session has are left out."""
    return dict(
        charging_session_list_unpriced(sessions)
        .order_by()
        .values_list("unpriced_reason")
        .annotate(count=Count("*"))
    )


def charging_day_totals(*, fleet: Fleet) -> QuerySet:
    """The fleet's sessions summed per local day, kind of location, depot, cost center and
    price currency, invalid ones left out: rows with `day`, `location_kind`, `depot_id`,
    `depot_name`, `cost_center_id` (and `cost_center__…`), `price_currency`, `sessions`,
    `energy_wh` and `price_incl_vat` to filter and sum. On PostgreSQL they are the rows its
    triggers keep, a few per day however many sessions a day has; elsewhere the sessions summed
    as they are read."""
    if connection.vendor != "postgresql":
        return charging_day_totals_from_sessions(fleet=fleet)
    return ChargingDayTotal.objects.filter(fleet=fleet, sessions__gt=0).annotate(
        depot_name=F("depot__name")
    )


def charging_day_totals_from_sessions(*, fleet: Fleet) -> QuerySet:
    """charging_day_totals read from the fleet's sessions themselves, a row per session."""
    return (
        ChargingSession.objects.filter(fleet=fleet)
        .exclude(status=SessionStatus.INVALID)
        .annotate(
            day=TruncDate("started_at", tzinfo=fleet.zone),
            depot_id=F("connector__station__depot_id"),
            depot_name=F("connector__station__depot__name"),
            sessions=Value(1),
        )
        .order_by()
    )


def charging_session_list_for_driver(*, driver_id: int) -> QuerySet[ChargingSession]:
    """A driver's sessions, with the vehicle and the place (connector, station, depot) each
    shows, and the fleet whose VAT rate the driver is charged."""
    return ChargingSession.objects.filter(driver_id=driver_id).select_related(
        "fleet", "vehicle", "connector__station__depot"
    )


@cache
def _session_rows(fields: tuple[str, ...]) -> QuerySet:
    """Sessions as rows of `fields`, its joins resolved once per process. Never evaluated
    itself: each read filters a copy of it."""
    return ChargingSession.objects.values(*fields)


def charging_session_rows_for_driver(*, driver_id: int, fields: Iterable[str]) -> QuerySet:
    """A driver's sessions as rows of `fields` (related ones by path, e.g. "vehicle__plate"):
    the lean read behind their session list, the API's busiest."""
    return _session_rows(tuple(fields)).filter(driver_id=driver_id)


def charging_session_get_for_driver(*, driver_id: int, session_id: int) -> ChargingSession | None:
    """One of a driver's sessions with its meter readings; None when it is not theirs."""
    sessions = charging_session_list_for_driver(driver_id=driver_id).prefetch_related(
        "meter_values"
    )
    try:
        return sessions.get(pk=session_id)
    except ChargingSession.DoesNotExist:
        return None


def meter_photo_get_for_driver(*, driver_id: int, session_id: int) -> FieldFile | None:
    """The meter photo of one of a driver's sessions; None when the session is not theirs or
    has no photo."""
    session = (
        ChargingSession.objects.filter(pk=session_id, driver_id=driver_id)
        .only("pk", "meter_photo")
        .first()
    )
    return session.meter_photo if session is not None and session.meter_photo else None


def connector_get_for_driver(*, driver: Driver, connector_id: int) -> Connector:
    """A connector of the driver's fleet; one of another fleet is not found, as a missing one."""
    connector = Connector.objects.filter(pk=connector_id, station__fleet_id=driver.fleet_id).first()
    if connector is None:
        raise OtherFleet("No such connector in your fleet.", field="connector")
    return connector


def vehicle_get_for_driver(*, driver: Driver, vehicle_id: int | None) -> Vehicle | None:
    """The vehicle of the driver's fleet they name, None when they name none; one of another
    fleet is not found, as a missing one."""
    if vehicle_id is None:
        return None
    vehicle = Vehicle.objects.filter(pk=vehicle_id, fleet_id=driver.fleet_id).first()
    if vehicle is None:
        raise OtherFleet("No such vehicle in your fleet.", field="vehicle")
    return vehicle


def charge_token_get_for_start(
    *, driver: Driver, token_id: int | None, moment: datetime
) -> ChargeToken:
    """The driver's token they name to start a session with, else their token valid at
    `moment`: the app's own before a card, then the one valid from the latest, then the one
    issued last."""
    tokens = charge_token_list(driver_id=driver.pk)
    if token_id is not None:
        token = tokens.filter(pk=token_id).first()
        if token is None:
            raise TokenUnknown("No such charge token of yours.", field="token")
        return token
    token = (
        tokens.filter(is_active=True, valid_from__lte=moment)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=moment))
        .order_by(
            Case(
                When(kind=TokenKind.APP_USER, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
            "-valid_from",
            "-pk",
        )
        .first()
    )
    if token is None:
        raise TokenNotValid(
            "You have no valid charge token; ask your fleet manager for one.", field="token"
        )
    return token


def charging_session_recent_for_vehicle(*, vehicle_id: int, limit: int) -> list[ChargingSession]:
    """The vehicle's `limit` latest sessions, newest first, with their drivers, in one query."""
    return list(
        ChargingSession.objects.filter(vehicle_id=vehicle_id)
        .select_related("driver")
        .order_by("-started_at", "-pk")[:limit]
    )


def charging_session_recent_for_driver(*, driver_id: int, limit: int) -> list[ChargingSession]:
    """The driver's `limit` latest sessions, newest first, with their vehicles, in one query."""
    return list(
        ChargingSession.objects.filter(driver_id=driver_id)
        .select_related("vehicle", "driver")
        .order_by("-started_at", "-pk")[:limit]
    )


def vehicle_consumption(*, vehicle_id: int, readings_limit: int) -> tuple[list, Consumption | None]:
    """The vehicle's latest `readings_limit` odometer readings (oldest first) and its energy per
    100 km between the first and the last of them, from the energy of its completed sessions
    that started in between: two queries, whatever the vehicle's history."""
    readings = [
        OdometerPoint(recorded_at=recorded_at, km=km)
        for recorded_at, km in OdometerReading.objects.filter(vehicle_id=vehicle_id)
        .order_by("-recorded_at")
        .values_list("recorded_at", "km")[:readings_limit]
    ][::-1]
    if len(readings) < 2:
        return readings, None
    charged = [
        ChargedEnergy(started_at=started_at, energy_wh=energy_wh)
        for started_at, energy_wh in ChargingSession.objects.filter(
            vehicle_id=vehicle_id,
            status=SessionStatus.COMPLETED,
            started_at__gte=readings[0].recorded_at,
            started_at__lt=readings[-1].recorded_at,
        ).values_list("started_at", "energy_wh")
    ]
    return readings, energy_per_100_km(readings, charged)


def vehicle_list_with_last_charge(vehicles: QuerySet[Vehicle]) -> QuerySet[Vehicle]:
    """`vehicles` (scoped by the caller), each annotated in the same query with the start of
    its latest session (`last_charged_at`, None if it never charged)."""
    latest = ChargingSession.objects.filter(vehicle=OuterRef("pk")).order_by("-started_at")
    return vehicles.annotate(last_charged_at=Subquery(latest.values("started_at")[:1]))


def charger_call_get_for_driver(*, driver_id: int, call_id: int, action: str) -> ChargerCall | None:
    """A start or stop the driver asked a charger for (`action`); another's is not found."""
    return ChargerCall.objects.filter(pk=call_id, driver_id=driver_id, action=action).first()


def evse_id_of_scan(text: str) -> str:
    """The EVSE id a driver typed or scanned: a QR code may hold a link ending in it. Upper
    case, without the asterisks that separate its parts, as it is compared."""
    last_part = [part for part in text.strip().split("/") if part][-1:] or [""]
    return last_part[0].split("?")[0].upper().replace("*", "")


def connector_get_for_driver_by_evse_id(*, driver: Driver, text: str) -> Connector:
    """The connector of the driver's fleet whose EVSE id the driver typed or scanned (QR code
    content); one of another fleet is not found, as a missing one."""
    wanted = evse_id_of_scan(text)
    connector = (
        Connector.objects.filter(station__fleet_id=driver.fleet_id)
        .exclude(evse_id="")
        .annotate(evse_compared=Replace(Upper("evse_id"), Value("*"), Value("")))
        .filter(evse_compared=wanted)
        .first()
        if wanted
        else None
    )
    if connector is None:
        raise OtherFleet(
            f"No connector of your fleet has the EVSE id {text.strip()!r}.", field="evse_id"
        )
    return connector


def charging_station_list_for_driver(*, driver: Driver) -> QuerySet[ChargingStation]:
    """The depot stations of the driver's fleet with their connectors, each connector with
    whether a session is charging on it, in two queries."""
    charging = ChargingSession.objects.filter(connector=OuterRef("pk"), status=SessionStatus.ACTIVE)
    return (
        ChargingStation.objects.filter(fleet_id=driver.fleet_id, depot__isnull=False)
        .select_related("depot")
        .prefetch_related(
            Prefetch(
                "connectors",
                queryset=Connector.objects.annotate(is_charging=Exists(charging)).order_by(
                    "connector_id"
                ),
            )
        )
        .order_by("depot__name", "ocpp_identity")
    )
