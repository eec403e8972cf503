"""Benchmark: price 100,000 sessions of 12 meter values each with the OCPI pricing engine.

The floor, measured in the same run, is the least any pricing must do: for every meter
interval, multiply its energy by a price in Decimal and sum, then round the total once. The
engine additionally cuts periods at the tariff's time-of-day boundaries in the fleet's zone,
tells charging from parking, applies step sizes, a grace period, VAT and per-line rounding.

    .venv/bin/python bench/pricing.py [--sessions 100000]

The last line printed is one JSON object with the figures.
"""

import argparse
import datetime as dt
import json
import random
import sys
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.charging.pricing import (
    Dimension,
    MeterSample,
    PriceComponent,
    Restrictions,
    TariffElement,
    TariffTerms,
    price_meter_values,
)

ZONE = ZoneInfo("Europe/Amsterdam")
VAT = Decimal("21")
DEPOT_TARIFF = TariffTerms(
    currency="EUR",
    elements=(
        TariffElement(
            (PriceComponent(Dimension.ENERGY, Decimal("0.19"), VAT, 1),),
            Restrictions(start_time=dt.time(22), end_time=dt.time(7)),
        ),
        TariffElement(
            (
                PriceComponent(Dimension.FLAT, Decimal("0.35"), VAT, 1),
                PriceComponent(Dimension.ENERGY, Decimal("0.28"), VAT, 1),
                PriceComponent(Dimension.PARKING_TIME, Decimal("1.20"), VAT, 300),
            ),
        ),
    ),
    parking_grace_seconds=1800,
)
METER_VALUES = 12


def sessions(count: int, seed: int = 7):
    """Sessions spread over 2026 (both DST changes included), 15-minute meter values, charging
    for the first 9 intervals at 3.7-22 kW and parked for the rest."""
    rng = random.Random(seed)
    year_start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    built = []
    for _ in range(count):
        start = year_start + dt.timedelta(seconds=rng.randrange(365 * 86400))
        register = rng.randrange(1_000_000, 90_000_000)
        step_wh = rng.randrange(900, 5500)
        samples = []
        energy = register
        for index in range(1, METER_VALUES + 1):
            if index <= 9:
                energy += step_wh
            samples.append(MeterSample(start + dt.timedelta(minutes=15 * index), energy))
        end = start + dt.timedelta(minutes=15 * (METER_VALUES + 1))
        built.append((start, end, register, energy, samples))
    return built


def engine(batch) -> Decimal:
    total = Decimal(0)
    for start, end, meter_start, meter_stop, samples in batch:
        total += price_meter_values(
            terms=DEPOT_TARIFF,
            started_at=start,
            ended_at=end,
            meter_start_wh=meter_start,
            meter_stop_wh=meter_stop,
            samples=samples,
            zone=ZONE,
        ).total_incl_vat
    return total


def floor(batch) -> Decimal:
    price_per_wh = Decimal("0.00028")
    cent = Decimal("0.01")
    total = Decimal(0)
    for _start, _end, meter_start, _meter_stop, samples in batch:
        previous = meter_start
        amount = Decimal(0)
        for sample in samples:
            amount += (sample.energy_wh - previous) * price_per_wh
            previous = sample.energy_wh
        total += amount.quantize(cent, rounding=ROUND_HALF_UP)
    return total


def timed(function, batch) -> float:
    began = time.perf_counter()
    function(batch)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    count = parser.parse_args().sessions
    batch = sessions(count)
    engine(batch[:1000])
    engine_seconds = min(timed(engine, batch) for _ in range(3))
    floor_seconds = min(timed(floor, batch) for _ in range(3))
    sessions_per_s = count / engine_seconds
    floor_per_s = count / floor_seconds
    ratio = engine_seconds / floor_seconds
    print(f"sessions priced        {count:,} of {METER_VALUES} meter values each")
    print(f"engine                 {engine_seconds:.2f} s  {sessions_per_s:,.0f} sessions/s")
    print(f"floor (Σ energy x price) {floor_seconds:.2f} s  {floor_per_s:,.0f} sessions/s")
    print(f"ratio                  {ratio:.1f}x the floor")
    print(
        json.dumps(
            {
                "bench": "pricing",
                "sessions": count,
                "sessions_per_s": round(sessions_per_s),
                "floor_sessions_per_s": round(floor_per_s),
                "ratio": round(ratio, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
