"""A vehicle's energy per 100 km from the energy charged between odometer readings."""

import datetime as dt

from apps.charging.consumption import (
    ChargedEnergy,
    Consumption,
    OdometerPoint,
    energy_per_100_km,
)

UTC = dt.UTC


def at(day: int, hour: int = 8) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=UTC)


def test_energy_between_the_first_and_last_reading_over_the_km_between_them():
    readings = [OdometerPoint(at(10), 10_400), OdometerPoint(at(1), 10_000)]
    sessions = [
        ChargedEnergy(at(1), 20_000),
        ChargedEnergy(at(5), 30_001),
        ChargedEnergy(at(10), 99_000),
        ChargedEnergy(at(1, 7), 50_000),
    ]

    consumption = energy_per_100_km(readings, sessions)

    assert consumption == Consumption(
        since=at(1), until=at(10), km=400, energy_wh=50_001, wh_per_100_km=12_500
    )


def test_wh_per_100_km_rounds_half_up():
    readings = [OdometerPoint(at(1), 0), OdometerPoint(at(2), 8)]

    consumption = energy_per_100_km(readings, [ChargedEnergy(at(1), 1_001)])

    assert consumption.wh_per_100_km == 12_513


def test_without_two_readings_or_any_km_driven_there_is_no_figure():
    one = [OdometerPoint(at(1), 10_000)]
    standing = [OdometerPoint(at(1), 10_000), OdometerPoint(at(9), 10_000)]
    charged = [ChargedEnergy(at(2), 20_000)]

    assert energy_per_100_km([], charged) is None
    assert energy_per_100_km(one, charged) is None
    assert energy_per_100_km(standing, charged) is None


def test_no_session_between_the_readings_is_zero_energy():
    readings = [OdometerPoint(at(1), 10_000), OdometerPoint(at(2), 10_100)]

    consumption = energy_per_100_km(readings, [ChargedEnergy(at(3), 20_000)])

    assert (consumption.energy_wh, consumption.wh_per_100_km) == (0, 0)
