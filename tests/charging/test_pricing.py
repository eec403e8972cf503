"""The pricing engine against OCPI 2.2.1's worked examples, its own rules, and properties.

The golden cases reproduce the examples of the OCPI 2.2.1 Tariffs module. Where an example's
prose contradicts the module's own step_size rule as corrected in the 2.2.1 bug-fix notes
("step_size is taken into account once per session for ENERGY and once for TIME and
PARKING_TIME combined; when both are used, only for the total parking time"), the test follows
the rule and says so.
"""

import dataclasses
import datetime as dt
import json
import math
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.charging.ocpi import cdr_from_ocpi, tariff_terms_from_ocpi
from apps.charging.pricing import (
    ChargingPeriod,
    DayOfWeek,
    Dimension,
    MeterSample,
    Price,
    PriceComponent,
    Restrictions,
    TariffElement,
    TariffTerms,
    charging_periods_from_meter_values,
    price_meter_values,
    price_session,
    split_period,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
D = Decimal
FIXTURES = Path(__file__).parent / "fixtures"


def local(year, month, day, hour, minute=0, zone=AMSTERDAM):
    return dt.datetime(year, month, day, hour, minute, tzinfo=zone)


def session(start, *parts):
    """Periods from (minutes, kWh, charging) parts laid end to end from `start`."""
    periods = []
    for minutes, kwh, charging in parts:
        end = start + dt.timedelta(minutes=minutes)
        periods.append(ChargingPeriod(start, end, D(kwh) * 1000, charging))
        start = end
    return tuple(periods)


def terms(*elements, **options):
    return TariffTerms("EUR", tuple(elements), **options)


def element(*components, **restrictions):
    return TariffElement(tuple(components), Restrictions(**restrictions) if restrictions else None)


def energy(price, vat=None, step=1):
    return PriceComponent(Dimension.ENERGY, D(price), D(vat) if vat else None, step)


def flat(price, vat=None):
    return PriceComponent(Dimension.FLAT, D(price), D(vat) if vat else None, 1)


def charging_time(price, vat=None, step=1):
    return PriceComponent(Dimension.TIME, D(price), D(vat) if vat else None, step)


def parking(price, vat=None, step=1):
    return PriceComponent(Dimension.PARKING_TIME, D(price), D(vat) if vat else None, step)


MONDAY_MORNING = local(2026, 6, 1, 10)
WEEKDAYS = frozenset(DayOfWeek(day) for day in range(5))


def ocpi_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def cdr_document(start, parts) -> dict:
    """An OCPI CDR of periods from (minutes, kWh, charging, extra dimensions) laid end to end."""
    periods = []
    for minutes, kwh, charging, extra in parts:
        hours = D(minutes) / 60
        periods.append(
            {
                "start_date_time": ocpi_time(start),
                "dimensions": [
                    {"type": "ENERGY", "volume": kwh},
                    {"type": "TIME" if charging else "PARKING_TIME", "volume": float(hours)},
                    *extra,
                ],
            }
        )
        start += dt.timedelta(minutes=minutes)
    return {
        "id": "CDR-1",
        "currency": "EUR",
        "start_date_time": periods[0]["start_date_time"],
        "end_date_time": ocpi_time(start),
        "charging_periods": periods,
        "total_energy": sum(kwh for _, kwh, _, _ in parts),
    }


class TestOcpiTariffExamples:
    def test_simple_025_per_kwh(self):
        tariff = terms(element(energy("0.25", "10")))

        breakdown = price_session(
            terms=tariff, periods=session(MONDAY_MORNING, (120, 20, True)), zone=AMSTERDAM
        )

        assert (breakdown.total_excl_vat, breakdown.total_incl_vat) == (D("5.00"), D("5.50"))

    def test_025_per_kwh_and_start_fee(self):
        tariff = terms(element(flat("0.50", "20"), energy("0.25", "10")))

        breakdown = price_session(
            terms=tariff, periods=session(MONDAY_MORNING, (120, 20, True)), zone=AMSTERDAM
        )

        assert (breakdown.total_excl_vat, breakdown.total_incl_vat) == (D("5.50"), D("6.10"))
        assert breakdown.dimensions[Dimension.FLAT].excl_vat == D("0.5000")

    @pytest.mark.parametrize(("kwh", "excl", "incl"), [(20, "5.00", "5.50"), (1, "0.50", "0.55")])
    def test_025_per_kwh_with_minimum_price(self, kwh, excl, incl):
        tariff = terms(element(energy("0.25", "10")), min_price=Price(D("0.50"), D("0.55")))

        breakdown = price_session(
            terms=tariff, periods=session(MONDAY_MORNING, (60, kwh, True)), zone=AMSTERDAM
        )

        assert (breakdown.total_excl_vat, breakdown.total_incl_vat) == (D(excl), D(incl))

    def test_minimum_price_shows_as_an_adjustment_beside_the_lines(self):
        tariff = terms(element(energy("0.25", "10")), min_price=Price(D("0.50"), D("0.55")))

        breakdown = price_session(
            terms=tariff, periods=session(MONDAY_MORNING, (60, 1, True)), zone=AMSTERDAM
        )

        assert breakdown.lines_excl_vat == D("0.2500")
        assert breakdown.price_limit_adjustment == Price(D("0.2500"), D("0.2750"))

    def test_energy_parking_and_start_fee(self):
        tariff = terms(
            element(flat("0.50", "20"), energy("0.25", "10"), parking("2.00", "20", 900))
        )
        periods = session(MONDAY_MORNING, (120, 20, True), (40, 0, False))

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        assert (breakdown.total_excl_vat, breakdown.total_incl_vat) == (D("7.00"), D("7.90"))
        parking_line = breakdown.periods[-1].lines[-1]
        assert parking_line.dimension == Dimension.PARKING_TIME
        assert parking_line.billed_volume == D(45 * 60)

    @pytest.mark.parametrize(
        ("kwh", "excl", "incl"), [(50, "10.00", "11.00"), (30, "8.00", "8.85")]
    )
    def test_start_fee_with_maximum_price(self, kwh, excl, incl):
        tariff = terms(
            element(flat("0.50", "20"), energy("0.25", "10")),
            max_price=Price(D("10.00"), D("11.00")),
        )

        breakdown = price_session(
            terms=tariff, periods=session(MONDAY_MORNING, (180, kwh, True)), zone=AMSTERDAM
        )

        assert (breakdown.total_excl_vat, breakdown.total_incl_vat) == (D(excl), D(incl))

    def test_two_euro_per_hour_charging(self):
        tariff = terms(element(charging_time("2.00", "10", 60)))

        breakdown = price_session(
            terms=tariff, periods=session(MONDAY_MORNING, (150, 20, True)), zone=AMSTERDAM
        )

        assert (breakdown.total_excl_vat, breakdown.total_incl_vat) == (D("5.00"), D("5.50"))

    def test_three_euro_per_hour_and_five_euro_per_hour_parking(self):
        tariff = terms(
            element(charging_time("3.00", "10", 60)), element(parking("5.00", "20", 300))
        )
        periods = session(MONDAY_MORNING, (150, 20, True), (42, 0, False))

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        assert (breakdown.total_excl_vat, breakdown.total_incl_vat) == (D("11.25"), D("12.75"))
        assert breakdown.as_ocpi()["total_parking_cost"] == {"excl_vat": "3.75", "incl_vat": "4.50"}

    def test_ad_hoc_1_90_per_hour_in_five_minute_steps(self):
        tariff = terms(element(charging_time("1.90", "5.2", 300)))

        breakdown = price_session(
            terms=tariff, periods=session(MONDAY_MORNING, (150, 20, True)), zone=AMSTERDAM
        )

        assert (breakdown.total_excl_vat, breakdown.total_incl_vat) == (D("4.75"), D("5.00"))

    def test_energy_in_100_wh_steps_follows_the_example_json(self):
        # The prose says 5.50 / 6.05, which matches neither 20 nor 20.5 kWh with the example's
        # own JSON (0.50 start fee, 0.25/kWh in 100 Wh steps); the JSON is followed.
        tariff = terms(element(flat("0.50", "20"), energy("0.25", "10", 100)))

        breakdown = price_session(
            terms=tariff, periods=session(MONDAY_MORNING, (120, "20.45", True)), zone=AMSTERDAM
        )

        energy_line = breakdown.periods[0].lines[1]
        assert energy_line.billed_volume == D(20500)
        assert energy_line.excl_vat == D("5.1250")
        assert (breakdown.total_excl_vat, breakdown.total_incl_vat) == (D("5.63"), D("6.24"))

    def test_free_of_charge_example_with_step_size_0_costs_nothing(self):
        tariff = tariff_terms_from_ocpi(
            json.loads((FIXTURES / "tariff_free_of_charge.json").read_text())
        )
        periods = session(MONDAY_MORNING, (120, "20.4567", True), (30, 0, False))

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        assert [
            (line.dimension, line.billed_volume, line.excl_vat)
            for period in breakdown.periods
            for line in period.lines
        ] == [(Dimension.FLAT, D(1), D("0.0000"))]
        assert (breakdown.total_excl_vat, breakdown.total_incl_vat) == (D("0.00"), D("0.00"))

    def complex_tariff(self):
        return terms(
            element(flat("2.50", "15")),
            element(charging_time("1.00", "20", 900), max_current=D(32)),
            element(
                charging_time("2.00", "20", 600),
                min_current=D(32),
                day_of_week=frozenset(DayOfWeek(d) for d in range(5)),
            ),
            element(
                charging_time("1.25", "20", 600),
                min_current=D(32),
                day_of_week=frozenset({DayOfWeek.SATURDAY, DayOfWeek.SUNDAY}),
            ),
            element(
                parking("5.00", "10", 300),
                start_time=dt.time(9),
                end_time=dt.time(18),
                day_of_week=frozenset(DayOfWeek(d) for d in range(5)),
            ),
            element(
                parking("6.00", "10", 300),
                start_time=dt.time(10),
                end_time=dt.time(17),
                day_of_week=frozenset({DayOfWeek.SATURDAY}),
            ),
        )

    def test_complex_tariff_monday_morning_at_16_amperes(self):
        # The prose bills 150 charging minutes (8.75 / 10.00). Under the step_size rule, TIME
        # and PARKING_TIME are rounded once together, on the parking time when parking is
        # priced: 147 charging minutes stay 147, 42 parking minutes become 45.
        start = local(2026, 6, 1, 9, 30)
        charging = ChargingPeriod(
            start, start + dt.timedelta(minutes=147), D(8000), True, current_a=D(16)
        )
        parked = ChargingPeriod(charging.end, charging.end + dt.timedelta(minutes=42), D(0), False)

        breakdown = price_session(
            terms=self.complex_tariff(), periods=(charging, parked), zone=AMSTERDAM
        )

        assert breakdown.dimensions[Dimension.TIME].excl_vat == D("2.4500")
        assert breakdown.dimensions[Dimension.PARKING_TIME].excl_vat == D("3.7500")
        assert (breakdown.total_excl_vat, breakdown.total_incl_vat) == (D("8.70"), D("9.94"))

    def test_complex_tariff_saturday_afternoon_at_43_amperes(self):
        # The prose bills 120 charging minutes (12.50); by the rule 114 minutes are billed and
        # the 71 parking minutes become 75.
        start = local(2026, 6, 6, 13, 30)
        charging = ChargingPeriod(
            start, start + dt.timedelta(minutes=114), D(40000), True, current_a=D(43)
        )
        parked = ChargingPeriod(charging.end, charging.end + dt.timedelta(minutes=71), D(0), False)

        breakdown = price_session(
            terms=self.complex_tariff(), periods=(charging, parked), zone=AMSTERDAM
        )

        assert breakdown.dimensions[Dimension.TIME].excl_vat == D("2.3750")
        assert breakdown.dimensions[Dimension.PARKING_TIME].excl_vat == D("7.5000")
        assert breakdown.total_excl_vat == D("12.38")

    @pytest.mark.parametrize(
        "currents",
        [
            [{"type": "CURRENT", "volume": 16}],
            [{"type": "MIN_CURRENT", "volume": 6}, {"type": "MAX_CURRENT", "volume": 16}],
            [{"type": "MAX_CURRENT", "volume": 16}],
        ],
        ids=["CURRENT", "MIN_CURRENT-MAX_CURRENT", "MAX_CURRENT"],
    )
    def test_complex_tariff_monday_morning_at_16_amperes_from_a_cdr(self, currents):
        cdr = cdr_from_ocpi(
            cdr_document(local(2026, 6, 1, 9, 30), [(147, 8, True, currents), (42, 0, False, [])])
        )

        breakdown = price_session(terms=self.complex_tariff(), periods=cdr.periods, zone=AMSTERDAM)

        assert breakdown.dimensions[Dimension.TIME].excl_vat == D("2.4500")
        assert breakdown.dimensions[Dimension.PARKING_TIME].excl_vat == D("3.7500")
        assert (breakdown.total_excl_vat, breakdown.total_incl_vat) == (D("8.70"), D("9.94"))
        assert breakdown.unknown_restrictions == ()

    @pytest.mark.parametrize(
        "currents",
        [
            [{"type": "CURRENT", "volume": 43}],
            [{"type": "MIN_CURRENT", "volume": 43}, {"type": "MAX_CURRENT", "volume": 63}],
            [{"type": "MIN_CURRENT", "volume": 43}],
        ],
        ids=["CURRENT", "MIN_CURRENT-MAX_CURRENT", "MIN_CURRENT"],
    )
    def test_complex_tariff_saturday_afternoon_at_43_amperes_from_a_cdr(self, currents):
        cdr = cdr_from_ocpi(
            cdr_document(local(2026, 6, 6, 13, 30), [(114, 40, True, currents), (71, 0, False, [])])
        )

        breakdown = price_session(terms=self.complex_tariff(), periods=cdr.periods, zone=AMSTERDAM)

        assert breakdown.dimensions[Dimension.TIME].excl_vat == D("2.3750")
        assert breakdown.dimensions[Dimension.PARKING_TIME].excl_vat == D("7.5000")
        assert breakdown.total_excl_vat == D("12.38")
        assert breakdown.unknown_restrictions == ()

    def test_complex_tariff_from_a_cdr_without_current_says_which_restrictions_are_unknown(self):
        cdr = cdr_from_ocpi(
            cdr_document(local(2026, 6, 1, 9, 30), [(147, 8, True, []), (42, 0, False, [])])
        )

        breakdown = price_session(terms=self.complex_tariff(), periods=cdr.periods, zone=AMSTERDAM)

        assert breakdown.dimensions[Dimension.TIME].excl_vat == 0
        assert breakdown.unknown_restrictions == (
            "max_current not known for period 1",
            "min_current not known for period 1",
        )

    def test_a_current_bound_that_already_fails_a_restriction_leaves_nothing_unknown(self):
        tariff = terms(
            element(charging_time("1.00"), min_current=D(32)), element(charging_time("2.00"))
        )
        periods = (
            ChargingPeriod(MONDAY_MORNING, local(2026, 6, 1, 11), D(5000), True),
            ChargingPeriod(
                local(2026, 6, 1, 11), local(2026, 6, 1, 12), D(5000), True, max_current_a=D(16)
            ),
            ChargingPeriod(local(2026, 6, 1, 12), local(2026, 6, 1, 13), D(5000), True),
        )

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        assert [(p.end, p.lines[0].unit_price) for p in breakdown.periods] == [
            (local(2026, 6, 1, 13), D("2.00"))
        ]
        assert breakdown.unknown_restrictions == ("min_current not known for periods 1, 3",)

    def test_power_bounds_are_compared_whole_and_a_missing_one_is_the_average_power(self):
        tariff = terms(element(energy("0.20"), max_power=D(16)), element(energy("0.50")))
        hour = dt.timedelta(hours=1)
        periods = (
            ChargingPeriod(MONDAY_MORNING, MONDAY_MORNING + hour, D(11000), True),
            ChargingPeriod(
                MONDAY_MORNING + hour,
                MONDAY_MORNING + 2 * hour,
                D(11000),
                True,
                min_power_kw=D(3),
                max_power_kw=D(22),
            ),
            ChargingPeriod(
                MONDAY_MORNING + 2 * hour,
                MONDAY_MORNING + 3 * hour,
                D(11000),
                True,
                min_power_kw=D(3),
            ),
        )

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        assert [p.lines[0].unit_price for p in breakdown.periods] == [
            D("0.20"),
            D("0.50"),
            D("0.20"),
        ]
        assert breakdown.unknown_restrictions == ()

    def step_size_tariff(self):
        return terms(
            element(charging_time("1.20", None, 1800), end_time=dt.time(17)),
            element(charging_time("2.40", None, 900), start_time=dt.time(17)),
            element(parking("1.00", None, 900), end_time=dt.time(20)),
        )

    def test_step_size_switching_element_example_2(self):
        periods = session(local(2026, 6, 1, 16, 35), (35, 5, True))

        breakdown = price_session(terms=self.step_size_tariff(), periods=periods, zone=AMSTERDAM)

        before, after = breakdown.periods
        assert before.lines[0].excl_vat == D("0.5000")
        assert after.lines[0].billed_volume == D(20 * 60)
        assert breakdown.total_excl_vat == D("1.30")

    def test_step_size_switching_element_example_1_follows_the_rule(self):
        # The prose lets the 2 parking minutes vanish in the rounded-up charging time (0.50).
        # By the rule, parking is priced, so only the parking time is rounded: 10 charging
        # minutes (0.10 + 0.20) and 2 parking minutes billed as 15 (0.25).
        periods = session(local(2026, 6, 1, 16, 55), (10, 3, True), (2, 0, False))

        breakdown = price_session(terms=self.step_size_tariff(), periods=periods, zone=AMSTERDAM)

        assert [line.excl_vat for p in breakdown.periods for line in p.lines] == [
            D("0.1000"),
            D("0.2000"),
            D("0.2500"),
        ]
        assert breakdown.total_excl_vat == D("0.55")

    def test_step_size_switching_to_free_parking(self):
        periods = session(local(2026, 6, 1, 19, 55), (10, 3, True), (2, 0, False))

        breakdown = price_session(terms=self.step_size_tariff(), periods=periods, zone=AMSTERDAM)

        assert breakdown.dimensions[Dimension.PARKING_TIME].excl_vat == 0
        assert breakdown.dimensions[Dimension.TIME].excl_vat == D("0.6000")
        assert breakdown.total_excl_vat == D("0.60")

    def test_first_kwh_free_and_parking_by_session_duration(self):
        # OCPI's min/max_duration count the session's duration. The example's prose (7.30)
        # counts from the end of charging; here charging takes the first hour, so parking
        # runs from 1:00 to 3:45 of the session: 2 h at 2.00 and 0.75 h at 3.00.
        tariff = terms(
            element(parking("0.0", None, 60), min_duration=0, max_duration=3600),
            element(parking("2.0", None, 60), min_duration=3600, max_duration=10800),
            element(parking("3.0", None, 60), min_duration=10800),
            element(energy("0.0"), max_kwh=D("1.0")),
            element(energy("0.2"), min_kwh=D("1.0")),
        )
        periods = session(MONDAY_MORNING, (60, 20, True), (165, 0, False))

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        assert breakdown.dimensions[Dimension.ENERGY].excl_vat == D("3.8000")
        assert breakdown.dimensions[Dimension.PARKING_TIME].excl_vat == D("6.2500")
        assert breakdown.total_excl_vat == D("10.05")

    def test_max_power_restrictions_example(self):
        tariff = terms(
            element(energy("0.20"), max_power=D(16)),
            element(energy("0.35"), max_power=D(32)),
            element(energy("0.50")),
        )
        start = MONDAY_MORNING
        periods = (
            ChargingPeriod(start, start + dt.timedelta(minutes=10), D(1000), True),
            ChargingPeriod(
                start + dt.timedelta(minutes=10), start + dt.timedelta(minutes=60), D(40000), True
            ),
            ChargingPeriod(
                start + dt.timedelta(minutes=60),
                start + dt.timedelta(minutes=67, seconds=30),
                D(500),
                True,
            ),
        )

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        assert [p.lines[0].excl_vat for p in breakdown.periods] == [
            D("0.2000"),
            D("20.0000"),
            D("0.1000"),
        ]
        assert breakdown.total_excl_vat == D("20.30")


class TestTimeAndZones:
    night_and_day = terms(
        element(energy("0.20", "21"), start_time=dt.time(22), end_time=dt.time(7)),
        element(energy("0.30", "21")),
    )

    def test_a_session_crossing_a_time_of_day_boundary_is_split_there(self):
        periods = session(local(2026, 6, 1, 21), (120, 22, True))

        breakdown = price_session(terms=self.night_and_day, periods=periods, zone=AMSTERDAM)

        day, night = breakdown.periods
        assert (day.end, day.energy_wh) == (local(2026, 6, 1, 22), D(11000))
        assert day.lines[0].excl_vat == D("3.3000")
        assert night.lines[0].excl_vat == D("2.2000")

    def test_restriction_wrapping_midnight_applies_after_midnight(self):
        periods = session(local(2026, 6, 2, 5), (180, 30, True))

        breakdown = price_session(terms=self.night_and_day, periods=periods, zone=AMSTERDAM)

        night, day = breakdown.periods
        assert night.end == local(2026, 6, 2, 7)
        assert night.lines[0].unit_price == D("0.20")
        assert day.lines[0].unit_price == D("0.30")

    def test_spring_forward_loses_no_hour_and_splits_at_local_seven(self):
        # 2026-03-29 in Amsterdam: 02:00 becomes 03:00. From 01:00 to 08:00 local is 6 hours.
        start = local(2026, 3, 29, 1)
        periods = (ChargingPeriod(start, local(2026, 3, 29, 8), D(6000), True),)
        tariff = terms(
            element(charging_time("1.00"), start_time=dt.time(22), end_time=dt.time(7)),
            element(charging_time("2.00")),
        )

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        night, day = breakdown.periods
        assert night.lines[0].volume == D(5 * 3600)
        assert day.lines[0].volume == D(3600)
        assert breakdown.total_excl_vat == D("7.00")

    def test_fall_back_counts_the_repeated_hour(self):
        # 2026-10-25 in Amsterdam: 03:00 becomes 02:00 again. From 01:00 to 08:00 is 8 hours.
        start = local(2026, 10, 25, 1)
        tariff = terms(
            element(charging_time("1.00"), start_time=dt.time(22), end_time=dt.time(7)),
            element(charging_time("2.00")),
        )

        breakdown = price_session(
            terms=tariff,
            periods=(ChargingPeriod(start, local(2026, 10, 25, 8), D(8000), True),),
            zone=AMSTERDAM,
        )

        night, day = breakdown.periods
        assert night.lines[0].volume == D(7 * 3600)
        assert day.lines[0].volume == D(3600)

    def test_restriction_starting_inside_the_skipped_hour_applies_from_the_jump(self):
        start = local(2026, 3, 29, 1)
        tariff = terms(
            element(charging_time("9.00"), start_time=dt.time(2, 30), end_time=dt.time(4)),
            element(charging_time("1.00")),
        )

        breakdown = price_session(
            terms=tariff,
            periods=(ChargingPeriod(start, local(2026, 3, 29, 5), D(3000), True),),
            zone=AMSTERDAM,
        )

        assert [(p.start, p.lines[0].unit_price) for p in breakdown.periods] == [
            (start.astimezone(dt.UTC), D("1.00")),
            (local(2026, 3, 29, 3).astimezone(dt.UTC), D("9.00")),
            (local(2026, 3, 29, 4).astimezone(dt.UTC), D("1.00")),
        ]

    def test_day_of_week_and_date_restrictions_switch_at_local_midnight(self):
        tariff = terms(
            element(energy("0.10"), day_of_week=frozenset({DayOfWeek.SUNDAY})),
            element(energy("0.40"), start_date=dt.date(2026, 6, 1), end_date=dt.date(2026, 7, 1)),
            element(energy("0.30")),
        )
        periods = session(local(2026, 5, 31, 23), (120, 2, True))

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        assert [p.lines[0].unit_price for p in breakdown.periods] == [D("0.10"), D("0.40")]

    def test_month_end_and_end_date_exclusive(self):
        tariff = terms(
            element(energy("0.40"), end_date=dt.date(2026, 7, 1)), element(energy("0.30"))
        )
        periods = session(local(2026, 6, 30, 23, 30), (60, 1, True))

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        assert [p.lines[0].excl_vat for p in breakdown.periods] == [D("0.2000"), D("0.1500")]


class TestEndOfDay:
    """OCPI 2.2.1 TariffRestrictions.end_time: "To stop at end of the day use: 00:00"."""

    def test_an_element_ending_at_0000_applies_until_the_end_of_the_day(self):
        tariff = tariff_terms_from_ocpi(
            {
                "currency": "EUR",
                "elements": [
                    {
                        "price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}],
                        "restrictions": {"end_time": "00:00"},
                    }
                ],
            }
        )

        breakdown = price_session(
            terms=tariff, periods=session(local(2026, 6, 1, 12), (60, 10, True)), zone=AMSTERDAM
        )

        assert breakdown.dimensions[Dimension.ENERGY].excl_vat == D("3.0000")
        assert breakdown.total_excl_vat == D("3.00")

    def test_an_element_from_2200_to_0000_applies_until_midnight_only(self):
        tariff = terms(
            element(energy("0.20"), start_time=dt.time(22), end_time=dt.time(0)),
            element(energy("0.30")),
        )
        periods = session(local(2026, 6, 1, 21), (240, 4, True))

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        assert [(p.end, p.lines[0].unit_price) for p in breakdown.periods] == [
            (local(2026, 6, 1, 22), D("0.30")),
            (local(2026, 6, 2, 0), D("0.20")),
            (local(2026, 6, 2, 1), D("0.30")),
        ]

    @pytest.mark.parametrize("boundary", [dt.time(0), dt.time(8)], ids=["00:00", "08:00"])
    def test_an_element_starting_when_it_ends_applies_all_day(self, boundary):
        tariff = terms(
            element(energy("0.20"), start_time=boundary, end_time=boundary),
            element(energy("0.30")),
        )
        periods = session(local(2026, 6, 1, 7), (1440, 24, True))

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        assert {line.unit_price for p in breakdown.periods for line in p.lines} == {D("0.20")}
        assert breakdown.total_excl_vat == D("4.80")

    def test_a_weekend_element_from_0000_to_0000_applies_all_weekend_before_the_default(self):
        tariff = terms(
            element(
                energy("0.20"),
                start_time=dt.time(0),
                end_time=dt.time(0),
                day_of_week=frozenset({DayOfWeek.SATURDAY, DayOfWeek.SUNDAY}),
            ),
            element(energy("0.35")),
        )
        friday_evening = local(2026, 6, 5, 23)
        periods = session(friday_evening, (120, 2, True), (2880, 48, True), (60, 1, True))

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        assert [(p.start, p.end, p.lines[0].unit_price) for p in breakdown.periods] == [
            (friday_evening, local(2026, 6, 6, 0), D("0.35")),
            (local(2026, 6, 6, 0), local(2026, 6, 8, 0), D("0.20")),
            (local(2026, 6, 8, 0), local(2026, 6, 8, 2), D("0.35")),
        ]
        assert breakdown.dimensions[Dimension.ENERGY].excl_vat == D("10.6500")


class TestBehavioursTheSpecLeavesOpen:
    """OCPI 2.2.1 does not say these; pricing.py's docstring and the README state the choice."""

    def test_a_flat_fee_whose_element_applies_only_later_is_charged_once_when_it_applies(self):
        tariff = terms(element(flat("1.00"), start_time=dt.time(18)), element(energy("0.30")))
        periods = session(local(2026, 6, 1, 17), (120, 4, True))

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        before_18, from_18 = breakdown.periods
        assert [line.dimension for line in before_18.lines] == [Dimension.ENERGY]
        assert [(line.dimension, line.excl_vat) for line in from_18.lines] == [
            (Dimension.FLAT, D("1.0000")),
            (Dimension.ENERGY, D("0.6000")),
        ]
        assert breakdown.total_excl_vat == D("2.20")

    def test_a_session_that_ends_before_the_flat_fee_applies_pays_no_flat_fee(self):
        tariff = terms(element(flat("1.00"), start_time=dt.time(18)), element(energy("0.30")))
        periods = session(local(2026, 6, 1, 16), (120, 4, True))

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        assert breakdown.dimensions[Dimension.FLAT].excl_vat == 0
        assert breakdown.total_excl_vat == D("1.20")

    def test_a_second_flat_fee_of_an_element_applying_later_is_not_added(self):
        tariff = terms(
            element(flat("0.50"), energy("0.30"), end_time=dt.time(18)),
            element(flat("2.00"), energy("0.20"), start_time=dt.time(18)),
        )
        periods = session(local(2026, 6, 1, 17), (120, 4, True))

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        assert [
            (line.dimension, line.unit_price) for p in breakdown.periods for line in p.lines
        ] == [
            (Dimension.FLAT, D("0.50")),
            (Dimension.ENERGY, D("0.30")),
            (Dimension.ENERGY, D("0.20")),
        ]
        assert breakdown.total_excl_vat == D("1.50")

    def test_a_minimum_price_without_incl_vat_raises_the_price_by_an_amount_without_vat(self):
        # 1 kWh at 0.25 + 10 % VAT is 0.25 + 0.025. The minimum of 0.50 excl. VAT adds 0.25,
        # on which the tariff states no VAT: the lines' VAT stays, none is added or dropped.
        tariff = terms(element(energy("0.25", "10")), min_price=Price(D("0.50")))

        breakdown = price_session(
            terms=tariff, periods=session(MONDAY_MORNING, (60, 1, True)), zone=AMSTERDAM
        )

        assert breakdown.price_limit_adjustment == Price(D("0.2500"), D("0.2500"))
        assert (breakdown.total_excl_vat, breakdown.total_incl_vat) == (D("0.50"), D("0.53"))
        assert breakdown.total_vat == D("0.03")

    def test_a_minimum_price_without_incl_vat_leaves_a_higher_price_as_it_is(self):
        tariff = terms(element(energy("0.25", "10")), min_price=Price(D("0.50")))

        breakdown = price_session(
            terms=tariff, periods=session(MONDAY_MORNING, (60, 4, True)), zone=AMSTERDAM
        )

        assert breakdown.price_limit_adjustment == Price(D("0.0000"), D("0.0000"))
        assert (breakdown.total_excl_vat, breakdown.total_incl_vat) == (D("1.00"), D("1.10"))


class TestRounding:
    def test_an_exact_tie_reached_by_a_running_sum_of_time_lines_rounds_half_up(self):
        # 1.955/h over 8,702 + 26 + 20 = 8,748 charging seconds is exactly 4.75065. Each line
        # alone (8,702 s is 4.7256833…) has recurring digits; summed as cut 28-digit values
        # the total fell just below the tie and came out 4.7506.
        tariff = terms(element(charging_time("1.955")))
        start = MONDAY_MORNING
        periods = []
        for seconds in (8702, 26, 20):
            charged = ChargingPeriod(start, start + dt.timedelta(seconds=seconds), D(1000), True)
            parked = ChargingPeriod(charged.end, charged.end + dt.timedelta(minutes=1), D(0), False)
            periods += [charged, parked]
            start = parked.end

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        assert [line.excl_vat for p in breakdown.periods for line in p.lines] == [
            D("4.7257"),
            D("0.0141"),
            D("0.0109"),
        ]
        assert breakdown.dimensions[Dimension.TIME].excl_vat == D("4.7507")


class TestParkingAndMeterValues:
    def test_parking_grace_period_waives_the_first_minutes_of_parking(self):
        tariff = terms(
            element(energy("0.30"), parking("6.00", None, 60)), parking_grace_seconds=900
        )
        periods = session(MONDAY_MORNING, (60, 10, True), (40, 0, False))

        breakdown = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)

        parking_line = breakdown.periods[1].lines[-1]
        assert parking_line.volume == D(25 * 60)
        assert parking_line.excl_vat == D("2.5000")
        assert breakdown.total_excl_vat == D("5.50")

    def test_idle_minutes_are_parking_not_charging_time(self):
        start = dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC)
        samples = [
            MeterSample(start + dt.timedelta(minutes=30), 105_000),
            MeterSample(start + dt.timedelta(minutes=60), 110_000),
            MeterSample(start + dt.timedelta(minutes=90), 110_000),
        ]

        periods = charging_periods_from_meter_values(
            started_at=start,
            ended_at=start + dt.timedelta(minutes=120),
            meter_start_wh=100_000,
            meter_stop_wh=110_000,
            samples=samples,
        )
        breakdown = price_session(
            terms=terms(element(charging_time("10.00"), parking("1.00"))),
            periods=periods,
            zone=AMSTERDAM,
        )

        assert [p.charging for p in periods] == [True, True, False, False]
        assert breakdown.dimensions[Dimension.TIME].excl_vat == D("10.0000")
        assert breakdown.dimensions[Dimension.PARKING_TIME].excl_vat == D("1.0000")

    def test_energy_is_the_register_difference_not_the_register(self):
        start = dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC)

        periods = charging_periods_from_meter_values(
            started_at=start,
            ended_at=start + dt.timedelta(hours=1),
            meter_start_wh=48_123_456,
            meter_stop_wh=48_134_456,
            samples=[MeterSample(start + dt.timedelta(minutes=30), 48_130_000)],
        )

        assert sum(p.energy_wh for p in periods) == 11_000


tariff_strategy = st.builds(
    lambda energy_price, time_price, parking_price, flat_price, step, night: terms(
        *(
            [element(energy(energy_price / 2), start_time=dt.time(22), end_time=dt.time(6))]
            if night
            else []
        ),
        element(
            energy(energy_price, "21", 1 if night else step),
            charging_time(time_price, "21"),
            parking(parking_price, "9", 60),
            flat(flat_price, "21"),
        ),
    ),
    energy_price=st.decimals("0", "2", places=5),
    time_price=st.decimals("0", "5", places=4),
    parking_price=st.decimals("0", "10", places=4),
    flat_price=st.decimals("0", "3", places=2),
    step=st.sampled_from([1, 10, 100, 1000]),
    night=st.booleans(),
)
parts_strategy = st.lists(
    st.tuples(st.integers(1, 240), st.integers(0, 40_000), st.booleans()), min_size=1, max_size=8
)
start_strategy = st.datetimes(
    min_value=dt.datetime(2026, 1, 1),  # noqa: DTZ001 - hypothesis takes naive bounds
    max_value=dt.datetime(2026, 12, 31),  # noqa: DTZ001
    timezones=st.just(dt.UTC),
)


def build(start, parts):
    periods = []
    for minutes, wh, charging in parts:
        end = start + dt.timedelta(minutes=minutes)
        periods.append(ChargingPeriod(start, end, D(wh if charging else 0), charging))
        start = end
    return tuple(periods)


@settings(max_examples=150, deadline=None)
@given(tariff=tariff_strategy, start=start_strategy, parts=parts_strategy)
def test_price_is_never_negative_and_lines_sum_to_totals(tariff, start, parts):
    breakdown = price_session(terms=tariff, periods=build(start, parts), zone=AMSTERDAM)

    lines = [line for period in breakdown.periods for line in period.lines]
    assert breakdown.total_excl_vat >= 0
    assert breakdown.lines_excl_vat == sum((line.excl_vat for line in lines), D(0))
    assert breakdown.lines_vat == sum((line.vat for line in lines), D(0))
    assert sum((t.excl_vat for t in breakdown.dimensions.values()), D(0)) == (
        breakdown.lines_excl_vat
    )
    assert breakdown.total_excl_vat == breakdown.lines_excl_vat.quantize(D("0.01"), "ROUND_HALF_UP")


@settings(max_examples=150, deadline=None)
@given(
    tariff=tariff_strategy,
    start=start_strategy,
    parts=parts_strategy,
    extra_wh=st.integers(1, 20_000),
    extra_minutes=st.integers(1, 120),
)
def test_price_does_not_decrease_with_more_energy_or_time(
    tariff, start, parts, extra_wh, extra_minutes
):
    """OCPI bills the step_size rounding once, on the last period, at that period's price. So
    where the energy price changes within a session (the night element here), a step_size above
    1 Wh could make more energy cheaper: the strategy gives such tariffs a 1 Wh step. Likewise
    charging time is priced per second: with a TIME step_size larger than the parking one, the
    single rounding of TIME and PARKING_TIME (on parking, once parking is priced) can make a
    session that adds a little parking cost less than the same session without."""
    base = price_session(terms=tariff, periods=build(start, parts), zone=AMSTERDAM)
    longer = [*parts, (extra_minutes, 0, False)]
    more_energy = [*parts, (1, extra_wh, True)]

    assert (
        price_session(terms=tariff, periods=build(start, longer), zone=AMSTERDAM).lines_excl_vat
        >= base.lines_excl_vat
    )
    assert (
        price_session(
            terms=tariff, periods=build(start, more_energy), zone=AMSTERDAM
        ).lines_excl_vat
        >= base.lines_excl_vat
    )


@settings(max_examples=200, deadline=None)
@given(
    tariff=tariff_strategy,
    start=start_strategy,
    parts=parts_strategy,
    where=st.floats(0.01, 0.99),
    which=st.integers(0, 7),
)
def test_splitting_a_period_anywhere_changes_nothing(tariff, start, parts, where, which):
    periods = build(start, parts)
    index = which % len(periods)
    target = periods[index]
    cut = target.start + (target.end - target.start) * where
    cut = cut.replace(microsecond=0)
    if not target.start < cut < target.end:
        return
    first, second = split_period(target, cut)
    split = (*periods[:index], first, second, *periods[index + 1 :])

    whole = price_session(terms=tariff, periods=periods, zone=AMSTERDAM)
    pieces = price_session(terms=tariff, periods=split, zone=AMSTERDAM)

    assert pieces.lines_excl_vat == whole.lines_excl_vat
    assert pieces.total_incl_vat == whole.total_incl_vat


threshold_tariff = terms(
    element(energy("0.10"), max_kwh=D("5")),
    element(energy("0.30", "21", 100), parking("1.00", "21", 300)),
)


@settings(max_examples=150, deadline=None)
@given(
    tariff=st.one_of(tariff_strategy, st.just(threshold_tariff)),
    start=start_strategy,
    steps=st.lists(st.tuples(st.integers(1, 90), st.integers(0, 6_000)), min_size=0, max_size=14),
)
def test_pricing_from_meter_values_equals_pricing_their_periods(tariff, start, steps):
    samples, moment, register = [], start, 1_000_000
    for minutes, wh in steps:
        moment += dt.timedelta(minutes=minutes)
        register += wh
        samples.append(MeterSample(moment, register))
    ended_at = moment + dt.timedelta(minutes=10)
    readings = {
        "started_at": start,
        "ended_at": ended_at,
        "meter_start_wh": 1_000_000,
        "meter_stop_wh": register,
        "samples": samples,
    }

    direct = price_meter_values(terms=tariff, zone=AMSTERDAM, **readings)
    through_periods = price_session(
        terms=tariff, periods=charging_periods_from_meter_values(**readings), zone=AMSTERDAM
    )

    assert direct == through_periods


VOLUME_PER_PRICED_UNIT = {
    Dimension.ENERGY: 1000,
    Dimension.FLAT: 1,
    Dimension.PARKING_TIME: 3600,
    Dimension.TIME: 3600,
}


def half_up_to_four_places(value: Fraction) -> Decimal:
    return D(math.floor(value * 10_000 + Fraction(1, 2))).scaleb(-4)


@settings(max_examples=150, deadline=None)
@given(tariff=tariff_strategy, start=start_strategy, parts=parts_strategy)
def test_each_dimension_total_is_its_exact_amount_rounded_half_up(tariff, start, parts):
    breakdown = price_session(terms=tariff, periods=build(start, parts), zone=AMSTERDAM)

    for dimension, total in breakdown.dimensions.items():
        amounts = [
            (
                Fraction(line.unit_price)
                * Fraction(line.billed_volume)
                / VOLUME_PER_PRICED_UNIT[dimension],
                Fraction(line.vat_rate or 0) / 100,
            )
            for period in breakdown.periods
            for line in period.lines
            if line.dimension is dimension
        ]
        excl_vat = sum((amount for amount, _ in amounts), Fraction(0))
        vat = sum((amount * rate for amount, rate in amounts), Fraction(0))
        assert (total.excl_vat, total.vat) == (
            half_up_to_four_places(excl_vat),
            half_up_to_four_places(vat),
        )


def every_step_size(tariff: TariffTerms, step_size: int) -> TariffTerms:
    return dataclasses.replace(
        tariff,
        elements=tuple(
            dataclasses.replace(
                element,
                components=tuple(
                    dataclasses.replace(component, step_size=step_size)
                    for component in element.components
                ),
            )
            for element in tariff.elements
        ),
    )


@settings(max_examples=100, deadline=None)
@given(
    tariff=tariff_strategy,
    start=start_strategy,
    parts=st.lists(
        st.tuples(st.integers(1, 14_400_000), st.integers(0, 40_000_000), st.booleans()),
        min_size=1,
        max_size=6,
    ),
)
def test_step_size_0_prices_exactly_as_step_size_1(tariff, start, parts):
    """Volumes here come in milliseconds and mWh, as a CDR's hours and kWh may."""
    periods = []
    for milliseconds, mwh, charging in parts:
        end = start + dt.timedelta(milliseconds=milliseconds)
        periods.append(ChargingPeriod(start, end, D(mwh if charging else 0) / 1000, charging))
        start = end

    step_0 = price_session(terms=every_step_size(tariff, 0), periods=periods, zone=AMSTERDAM)
    step_1 = price_session(terms=every_step_size(tariff, 1), periods=periods, zone=AMSTERDAM)

    assert step_0 == step_1


current_tariff_strategy = st.builds(
    lambda threshold, low_price, high_price, energy_price: terms(
        element(flat("0.50", "21")),
        element(charging_time(low_price, "20", 900), max_current=threshold),
        element(charging_time(high_price, "20", 600), min_current=threshold, day_of_week=WEEKDAYS),
        element(energy(energy_price, "21"), min_current=threshold / 2),
        element(energy("0.25", "21")),
        element(parking("5.00", "10", 300)),
    ),
    threshold=st.decimals("6", "63", places=1),
    low_price=st.decimals("0", "3", places=2),
    high_price=st.decimals("0", "3", places=2),
    energy_price=st.decimals("0", "1", places=3),
)


@settings(max_examples=150, deadline=None)
@given(
    tariff=current_tariff_strategy,
    start=start_strategy,
    parts=st.lists(
        st.tuples(
            st.integers(1, 240),
            st.integers(0, 40_000),
            st.booleans(),
            st.decimals("0", "80", places=1),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_a_constant_current_prices_the_same_as_current_or_as_equal_min_and_max_current(
    tariff, start, parts
):
    def priced(current_dimensions):
        document = cdr_document(
            start,
            [
                (minutes, D(wh if charging else 0) / 1000, charging, current_dimensions(amperes))
                for minutes, wh, charging, amperes in parts
            ],
        )
        return price_session(terms=tariff, periods=cdr_from_ocpi(document).periods, zone=AMSTERDAM)

    as_current = priced(lambda amperes: [{"type": "CURRENT", "volume": amperes}])
    as_bounds = priced(
        lambda amperes: [
            {"type": "MIN_CURRENT", "volume": amperes},
            {"type": "MAX_CURRENT", "volume": amperes},
        ]
    )

    assert as_bounds == as_current
