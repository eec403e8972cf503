"""Meter readings as chargers send them (strings with units) turned into integer Wh and W."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from voltop.core.errors import DomainError

ENERGY_UNITS = {"Wh": Decimal(1), "kWh": Decimal(1000)}
POWER_UNITS = {"W": Decimal(1), "kW": Decimal(1000)}


class MeterValueFormatError(DomainError):
    code = "charging.meter_value_format"


def _parse(value: str, field: str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as error:
        raise MeterValueFormatError(f"{value!r} is not a number.", field=field) from error
    if not number.is_finite():
        raise MeterValueFormatError(f"{value!r} is not a finite number.", field=field)
    return number


def energy_wh_from_reading(value: str, unit: str | None = "Wh", *, field: str = "energy") -> int:
    """Wh, rounded half-up to the whole Wh, from a reading in Wh or kWh (OCPP's default is Wh)."""
    factor = ENERGY_UNITS.get(unit or "Wh")
    if factor is None:
        raise MeterValueFormatError(
            f"Energy unit {unit!r} is not Wh or kWh.", field=f"{field}_unit"
        )
    wh = (_parse(value, field) * factor).to_integral_value(rounding=ROUND_HALF_UP)
    if wh < 0:
        raise MeterValueFormatError("An energy register cannot be negative.", field=field)
    return int(wh)


def power_w_from_reading(value: str, unit: str | None = "W", *, field: str = "power") -> int:
    """W, rounded half-up, from a reading in W or kW."""
    factor = POWER_UNITS.get(unit or "W")
    if factor is None:
        raise MeterValueFormatError(f"Power unit {unit!r} is not W or kW.", field=f"{field}_unit")
    watts = (_parse(value, field) * factor).to_integral_value(rounding=ROUND_HALF_UP)
    if watts < 0:
        raise MeterValueFormatError("Power cannot be negative.", field=field)
    return int(watts)


def state_of_charge_from_reading(value: str, *, field: str = "state_of_charge") -> int:
    percent = _parse(value, field).to_integral_value(rounding=ROUND_HALF_UP)
    if not 0 <= percent <= 100:
        raise MeterValueFormatError("State of charge must be between 0 and 100 %.", field=field)
    return int(percent)
