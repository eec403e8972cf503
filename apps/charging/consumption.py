"""A vehicle's energy use per 100 km, from what it charged between odometer readings: the
energy of the sessions that started from one reading up to the next is taken as what the
vehicle used to drive that distance. Values in, values out: no ORM, no clock."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class OdometerPoint:
    """The odometer (km) at a moment."""

    recorded_at: datetime
    km: int


@dataclass(frozen=True)
class ChargedEnergy:
    """A session's energy (Wh) and when it started."""

    started_at: datetime
    energy_wh: int


@dataclass(frozen=True)
class Consumption:
    """Energy per 100 km (whole Wh, half-up) over `km` driven between two readings, from the
    `energy_wh` charged in between."""

    since: datetime
    until: datetime
    km: int
    energy_wh: int
    wh_per_100_km: int


def energy_per_100_km(
    readings: Sequence[OdometerPoint], sessions: Iterable[ChargedEnergy]
) -> Consumption | None:
    """Energy per 100 km between the first and the last reading (in time): the energy of the
    sessions that started at or after the first reading and before the last, over the km
    between them. None where that cannot be told: fewer than two readings, or no km driven."""
    if len(readings) < 2:
        return None
    ordered = sorted(readings, key=lambda reading: reading.recorded_at)
    first, last = ordered[0], ordered[-1]
    km = last.km - first.km
    if km <= 0:
        return None
    energy_wh = sum(
        session.energy_wh
        for session in sessions
        if first.recorded_at <= session.started_at < last.recorded_at
    )
    per_100_km = (Decimal(energy_wh) * 100 / km).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return Consumption(
        since=first.recorded_at,
        until=last.recorded_at,
        km=km,
        energy_wh=energy_wh,
        wh_per_100_km=int(per_100_km),
    )
