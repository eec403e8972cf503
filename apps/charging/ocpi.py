"""OCPI 2.2.1 JSON for tariffs and CDRs, pure: parse into pricing values, and write back out.

Parsing refuses what would price wrongly (a missing or unknown currency, a negative price, a
negative step_size, two components of one dimension in one element, a malformed time, a VAT
rate above 100 %, a minimum price above the maximum) with an OcpiFormatError that names the JSON
path. A step_size of 0, which the specification's own free-of-charge example uses, is kept as
given; pricing reads it as 1.

Every number a tariff or a CDR's periods give, NaN and Infinity refused, must be below
MAX_NUMBER: far beyond any real price, energy, power, current, step or duration, and small
enough that pricing's exact decimal arithmetic never runs out of digits. What Voltop can store
of a tariff is narrower still; the tariff service checks that before saving.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from apps.charging.pricing import (
    ChargingPeriod,
    DayOfWeek,
    Dimension,
    Price,
    PriceComponent,
    Restrictions,
    TariffElement,
    TariffTerms,
)
from voltop.core.errors import DomainError
from voltop.core.money import is_known_currency, wh_of_kwh

# Above any real figure, and below what pricing's 28-digit decimals could multiply and round.
MAX_NUMBER = Decimal(10**9)
# VAT is a percentage of the price, from 0 to 100 as the tariff element columns hold it: OCPI
# bounds it nowhere, no real rate comes near 100, and a larger figure is a broken document.
MAX_VAT_RATE = Decimal(100)
TIME_OF_DAY = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
DATE = re.compile(r"^[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
VOLTOP_GRACE_FIELD = "voltop_parking_grace_seconds"
CDR_MEASURED_DIMENSIONS = {
    "CURRENT": "current_a",
    "MIN_CURRENT": "min_current_a",
    "MAX_CURRENT": "max_current_a",
    "POWER": "power_kw",
    "MIN_POWER": "min_power_kw",
    "MAX_POWER": "max_power_kw",
}


class OcpiFormatError(DomainError):
    code = "charging.ocpi_format"


def _require(container: dict, key: str, path: str):
    if not isinstance(container, dict) or key not in container or container[key] is None:
        raise OcpiFormatError(f"{path}.{key} is required.", field=f"{path}.{key}")
    return container[key]


def _decimal(
    value,
    path: str,
    *,
    minimum: Decimal | None = None,
    maximum: Decimal | None = MAX_NUMBER,
    maximum_allowed: bool = False,
) -> Decimal:
    """The number `value`, refused unless finite, at least `minimum` and below `maximum` (up
    to it when `maximum_allowed`)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise OcpiFormatError(f"{path} must be a number, got {value!r}.", field=path)
    try:
        number = Decimal(str(value))
    except InvalidOperation as error:
        raise OcpiFormatError(f"{path} must be a number, got {value!r}.", field=path) from error
    if not number.is_finite():
        raise OcpiFormatError(f"{path} must be a finite number.", field=path)
    if minimum is not None and number < minimum:
        raise OcpiFormatError(f"{path} must be at least {minimum}, got {number}.", field=path)
    if maximum is not None and (number > maximum or (number == maximum and not maximum_allowed)):
        bound = "at most" if maximum_allowed else "below"
        raise OcpiFormatError(f"{path} must be {bound} {maximum}, got {number}.", field=path)
    return number


def _currency(value, path: str) -> str:
    if not isinstance(value, str) or not is_known_currency(value):
        raise OcpiFormatError(f"{path} {value!r} is not an ISO 4217 currency.", field=path)
    return value


def parse_datetime(value, path: str) -> dt.datetime:
    """An OCPI DateTime; OCPI writes UTC, with or without the Z, so a naive value is UTC."""
    if not isinstance(value, str):
        raise OcpiFormatError(f"{path} must be an RFC 3339 date-time string.", field=path)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise OcpiFormatError(f"{path} {value!r} is not a date-time.", field=path) from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _time_of_day(value, path: str) -> dt.time:
    if not isinstance(value, str) or not TIME_OF_DAY.match(value):
        raise OcpiFormatError(f"{path} must be HH:MM (24 h), got {value!r}.", field=path)
    hours, minutes = value.split(":")
    return dt.time(int(hours), int(minutes))


def _date(value, path: str) -> dt.date:
    if not isinstance(value, str) or not DATE.match(value):
        raise OcpiFormatError(f"{path} must be YYYY-MM-DD, got {value!r}.", field=path)
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise OcpiFormatError(f"{path} {value!r} is not a date.", field=path) from error


def _seconds(value, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise OcpiFormatError(f"{path} must be a whole number of seconds ≥ 0.", field=path)
    if value >= MAX_NUMBER:
        raise OcpiFormatError(f"{path} must be below {MAX_NUMBER}, got {value}.", field=path)
    return value


def _price(value, path: str, *, maximum: Decimal | None = MAX_NUMBER) -> Price | None:
    if value is None:
        return None
    excl = _decimal(
        _require(value, "excl_vat", path),
        f"{path}.excl_vat",
        minimum=Decimal(0),
        maximum=maximum,
    )
    incl = value.get("incl_vat")
    return Price(
        excl,
        None
        if incl is None
        else _decimal(incl, f"{path}.incl_vat", minimum=Decimal(0), maximum=maximum),
    )


def _min_max_prices(document: dict) -> tuple[Price | None, Price | None]:
    """The tariff's minimum and maximum price: each incl. VAT not below its excl. VAT, and the
    maximum not below the minimum, excl. and incl. VAT alike."""
    prices = {
        bound: _price(document.get(f"{bound}_price"), f"tariff.{bound}_price")
        for bound in ("min", "max")
    }
    for bound, price in prices.items():
        if price is not None and price.incl_vat is not None and price.incl_vat < price.excl_vat:
            raise OcpiFormatError(
                f"tariff.{bound}_price.incl_vat is below its excl_vat.",
                field=f"tariff.{bound}_price.incl_vat",
            )
    low, high = prices["min"], prices["max"]
    for vat in ("excl_vat", "incl_vat"):
        low_value = getattr(low, vat) if low else None
        high_value = getattr(high, vat) if high else None
        if low_value is not None and high_value is not None and high_value < low_value:
            raise OcpiFormatError(
                f"tariff.max_price.{vat} is below tariff.min_price.{vat}.",
                field=f"tariff.max_price.{vat}",
            )
    return low, high


def _restrictions(value, path: str) -> Restrictions | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise OcpiFormatError(f"{path} must be an object.", field=path)
    numbers = {}
    for key in (
        "min_kwh",
        "max_kwh",
        "min_current",
        "max_current",
        "min_power",
        "max_power",
    ):
        if value.get(key) is not None:
            numbers[key] = _decimal(value[key], f"{path}.{key}", minimum=Decimal(0))
    for low, high in (
        ("min_kwh", "max_kwh"),
        ("min_current", "max_current"),
        ("min_power", "max_power"),
    ):
        if low in numbers and high in numbers and numbers[low] > numbers[high]:
            raise OcpiFormatError(f"{path}.{low} is above {high}.", field=f"{path}.{low}")
    days = value.get("day_of_week") or []
    if not isinstance(days, list) or any(
        not isinstance(day, str) or day not in DayOfWeek.__members__ for day in days
    ):
        raise OcpiFormatError(
            f"{path}.day_of_week must list MONDAY … SUNDAY, got {days!r}.",
            field=f"{path}.day_of_week",
        )
    return Restrictions(
        start_time=_time_of_day(value["start_time"], f"{path}.start_time")
        if value.get("start_time")
        else None,
        end_time=_time_of_day(value["end_time"], f"{path}.end_time")
        if value.get("end_time")
        else None,
        start_date=_date(value["start_date"], f"{path}.start_date")
        if value.get("start_date")
        else None,
        end_date=_date(value["end_date"], f"{path}.end_date") if value.get("end_date") else None,
        min_duration=_seconds(value["min_duration"], f"{path}.min_duration")
        if value.get("min_duration") is not None
        else None,
        max_duration=_seconds(value["max_duration"], f"{path}.max_duration")
        if value.get("max_duration") is not None
        else None,
        day_of_week=frozenset(DayOfWeek[day] for day in days),
        reservation=value.get("reservation"),
        **numbers,
    )


def _component(value, path: str) -> PriceComponent:
    kind = _require(value, "type", path)
    if kind not in Dimension.__members__:
        raise OcpiFormatError(
            f"{path}.type must be ENERGY, FLAT, PARKING_TIME or TIME, got {kind!r}.",
            field=f"{path}.type",
        )
    step_size = value.get("step_size", 1)
    if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 0:
        raise OcpiFormatError(
            f"{path}.step_size must be a whole number ≥ 0, got {step_size!r}.",
            field=f"{path}.step_size",
        )
    if step_size >= MAX_NUMBER:
        raise OcpiFormatError(
            f"{path}.step_size must be below {MAX_NUMBER}, got {step_size}.",
            field=f"{path}.step_size",
        )
    vat = value.get("vat")
    return PriceComponent(
        dimension=Dimension[kind],
        price=_decimal(_require(value, "price", path), f"{path}.price", minimum=Decimal(0)),
        vat_rate=None
        if vat is None
        else _decimal(
            vat,
            f"{path}.vat",
            minimum=Decimal(0),
            maximum=MAX_VAT_RATE,
            maximum_allowed=True,
        ),
        step_size=step_size,
    )


def tariff_terms_from_ocpi(document: dict) -> TariffTerms:
    """Pricing terms from an OCPI 2.2.1 Tariff object."""
    if not isinstance(document, dict):
        raise OcpiFormatError("A tariff must be a JSON object.", field="tariff")
    currency = _currency(_require(document, "currency", "tariff"), "tariff.currency")
    raw_elements = _require(document, "elements", "tariff")
    if not isinstance(raw_elements, list) or not raw_elements:
        raise OcpiFormatError("tariff.elements must list at least one element.", field="tariff")
    elements = []
    for index, raw in enumerate(raw_elements):
        path = f"tariff.elements[{index}]"
        raw_components = _require(raw, "price_components", path)
        if not isinstance(raw_components, list) or not raw_components:
            raise OcpiFormatError(
                f"{path}.price_components must list at least one component.",
                field=f"{path}.price_components",
            )
        components = tuple(
            _component(component, f"{path}.price_components[{position}]")
            for position, component in enumerate(raw_components)
        )
        dimensions = [component.dimension for component in components]
        if len(set(dimensions)) != len(dimensions):
            raise OcpiFormatError(
                f"{path} prices a dimension twice; an element has one component per dimension.",
                field=f"{path}.price_components",
            )
        restrictions = raw.get("restrictions", raw.get("tariff_restrictions"))
        elements.append(
            TariffElement(components, _restrictions(restrictions, f"{path}.restrictions"))
        )
    grace = document.get(VOLTOP_GRACE_FIELD, 0)
    min_price, max_price = _min_max_prices(document)
    return TariffTerms(
        currency=currency,
        elements=tuple(elements),
        min_price=min_price,
        max_price=max_price,
        parking_grace_seconds=_seconds(grace, f"tariff.{VOLTOP_GRACE_FIELD}"),
    )


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def _price_json(price: Price | None) -> dict | None:
    if price is None:
        return None
    body = {"excl_vat": _number(price.excl_vat)}
    if price.incl_vat is not None:
        body["incl_vat"] = _number(price.incl_vat)
    return body


def _restrictions_json(restrictions: Restrictions | None) -> dict | None:
    if restrictions is None:
        return None
    r = restrictions
    body = {
        "start_time": r.start_time.strftime("%H:%M") if r.start_time else None,
        "end_time": r.end_time.strftime("%H:%M") if r.end_time else None,
        "start_date": r.start_date.isoformat() if r.start_date else None,
        "end_date": r.end_date.isoformat() if r.end_date else None,
        "min_kwh": r.min_kwh,
        "max_kwh": r.max_kwh,
        "min_current": r.min_current,
        "max_current": r.max_current,
        "min_power": r.min_power,
        "max_power": r.max_power,
        "min_duration": r.min_duration,
        "max_duration": r.max_duration,
        "day_of_week": [day.name for day in sorted(r.day_of_week)] or None,
        "reservation": r.reservation,
    }
    return {
        key: _number(value) if isinstance(value, Decimal) else value
        for key, value in body.items()
        if value is not None
    }


def tariff_terms_to_ocpi(
    terms: TariffTerms,
    *,
    tariff_id: str,
    country_code: str,
    party_id: str,
    last_updated: dt.datetime,
    start_date_time: dt.datetime | None = None,
    end_date_time: dt.datetime | None = None,
) -> dict:
    """An OCPI 2.2.1 Tariff object; the parking grace period travels in a Voltop field."""
    elements = []
    for element in terms.elements:
        body: dict = {
            "price_components": [
                {
                    "type": component.dimension.value,
                    "price": _number(component.price),
                    **(
                        {"vat": _number(component.vat_rate)}
                        if component.vat_rate is not None
                        else {}
                    ),
                    "step_size": component.step_size,
                }
                for component in element.components
            ]
        }
        restrictions = _restrictions_json(element.restrictions)
        if restrictions:
            body["restrictions"] = restrictions
        elements.append(body)
    document = {
        "country_code": country_code,
        "party_id": party_id,
        "id": tariff_id,
        "currency": terms.currency,
        "elements": elements,
        "min_price": _price_json(terms.min_price),
        "max_price": _price_json(terms.max_price),
        "start_date_time": _utc(start_date_time),
        "end_date_time": _utc(end_date_time),
        "last_updated": _utc(last_updated),
    }
    if terms.parking_grace_seconds:
        document[VOLTOP_GRACE_FIELD] = terms.parking_grace_seconds
    return {key: value for key, value in document.items() if value is not None}


def _utc(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class CdrPeriods:
    """What a CDR says about a session, as pricing inputs."""

    cdr_id: str
    currency: str
    start: dt.datetime
    end: dt.datetime
    periods: tuple[ChargingPeriod, ...]
    total_energy_kwh: Decimal
    total_energy_wh: int
    total_cost: Price | None
    token_uid: str


def cdr_from_ocpi(document: dict) -> CdrPeriods:
    """Charging periods of an OCPI 2.2.1 CDR: each period lasts until the next one starts, and
    the last until the CDR's end. Read are ENERGY (kWh), TIME and PARKING_TIME (which tell
    charging from parking), and current (A) and power (kW) as CURRENT and POWER or as the
    lowest and highest reached, MIN_CURRENT / MAX_CURRENT and MIN_POWER / MAX_POWER."""
    if not isinstance(document, dict):
        raise OcpiFormatError("A CDR must be a JSON object.", field="cdr")
    raw_id = _require(document, "id", "cdr")
    cdr_id = str(raw_id).strip() if isinstance(raw_id, str | int) else ""
    if not cdr_id or isinstance(raw_id, bool):
        raise OcpiFormatError(f"cdr.id must be a non-empty string, got {raw_id!r}.", field="cdr.id")
    currency = _currency(_require(document, "currency", "cdr"), "cdr.currency")
    start = parse_datetime(_require(document, "start_date_time", "cdr"), "cdr.start_date_time")
    end = parse_datetime(_require(document, "end_date_time", "cdr"), "cdr.end_date_time")
    if end < start:
        raise OcpiFormatError(
            "cdr.end_date_time is before start_date_time.", field="cdr.end_date_time"
        )
    raw_periods = document.get("charging_periods") or []
    if not isinstance(raw_periods, list):
        raise OcpiFormatError("cdr.charging_periods must be a list.", field="cdr.charging_periods")
    starts = [
        parse_datetime(
            _require(raw, "start_date_time", f"cdr.charging_periods[{i}]"),
            f"cdr.charging_periods[{i}].start_date_time",
        )
        for i, raw in enumerate(raw_periods)
    ]
    if starts != sorted(starts) or (starts and (starts[0] < start or starts[-1] > end)):
        raise OcpiFormatError(
            "cdr.charging_periods must be in time order inside the session.",
            field="cdr.charging_periods",
        )
    periods = []
    for index, raw in enumerate(raw_periods):
        path = f"cdr.charging_periods[{index}]"
        period_end = starts[index + 1] if index + 1 < len(starts) else end
        energy_kwh = Decimal(0)
        charging = None
        measured: dict[str, Decimal] = {}
        dimensions = _require(raw, "dimensions", path)
        if not isinstance(dimensions, list):
            raise OcpiFormatError(f"{path}.dimensions must be a list.", field=f"{path}.dimensions")
        for position, dimension in enumerate(dimensions):
            kind = _require(dimension, "type", f"{path}.dimensions[{position}]")
            volume = _decimal(
                _require(dimension, "volume", f"{path}.dimensions[{position}]"),
                f"{path}.dimensions[{position}].volume",
                minimum=Decimal(0),
            )
            if kind == "ENERGY":
                energy_kwh = volume
            elif kind == "PARKING_TIME" and volume > 0:
                charging = False
            elif kind == "TIME" and volume > 0:
                charging = True
            elif kind in CDR_MEASURED_DIMENSIONS:
                measured[CDR_MEASURED_DIMENSIONS[kind]] = volume
        if charging is None:
            charging = energy_kwh > 0
        if period_end > starts[index]:
            periods.append(
                ChargingPeriod(starts[index], period_end, energy_kwh * 1000, charging, **measured)
            )
    total_energy = _decimal(
        _require(document, "total_energy", "cdr"), "cdr.total_energy", minimum=Decimal(0)
    )
    token = document.get("cdr_token") or {}
    if not isinstance(token, dict):
        raise OcpiFormatError("cdr.cdr_token must be an object.", field="cdr.cdr_token")
    total_cost = document.get("total_cost")
    return CdrPeriods(
        cdr_id=cdr_id,
        currency=currency,
        start=start,
        end=end,
        periods=tuple(periods),
        total_energy_kwh=total_energy,
        total_energy_wh=wh_of_kwh(total_energy),
        total_cost=_price(total_cost, "cdr.total_cost", maximum=None)
        if total_cost is not None
        else None,
        token_uid=str(token.get("uid") or ""),
    )
