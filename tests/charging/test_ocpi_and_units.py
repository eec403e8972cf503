import datetime as dt
import json
from decimal import Decimal

import pytest

from apps.charging.meter_units import (
    MeterValueFormatError,
    energy_wh_from_reading,
    power_w_from_reading,
    state_of_charge_from_reading,
)
from apps.charging.ocpi import (
    OcpiFormatError,
    cdr_from_ocpi,
    tariff_terms_from_ocpi,
    tariff_terms_to_ocpi,
)
from apps.charging.pricing import DayOfWeek, Dimension, Price

COMPLEX_TARIFF = {
    "country_code": "DE",
    "party_id": "ALL",
    "id": "14",
    "currency": "EUR",
    "min_price": {"excl_vat": 1.5, "incl_vat": 1.8},
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 2.50, "vat": 15.0, "step_size": 1}]},
        {
            "price_components": [{"type": "TIME", "price": 1.00, "vat": 20.0, "step_size": 900}],
            "restrictions": {"max_current": 32.00},
        },
        {
            "price_components": [
                {"type": "PARKING_TIME", "price": 5.00, "vat": 10.0, "step_size": 300}
            ],
            "restrictions": {
                "start_time": "09:00",
                "end_time": "18:00",
                "day_of_week": ["MONDAY", "FRIDAY"],
            },
        },
    ],
    "last_updated": "2015-06-29T20:39:09Z",
}


def test_an_ocpi_tariff_parses_into_exact_terms():
    terms = tariff_terms_from_ocpi(COMPLEX_TARIFF)

    assert terms.currency == "EUR"
    assert terms.min_price == Price(Decimal("1.5"), Decimal("1.8"))
    flat, time_element, parking = terms.elements
    assert flat.components[0].price == Decimal("2.5")
    assert time_element.components[0].step_size == 900
    assert time_element.restrictions.max_current == Decimal("32.0")
    assert parking.restrictions.start_time == dt.time(9)
    assert parking.restrictions.day_of_week == {DayOfWeek.MONDAY, DayOfWeek.FRIDAY}
    assert parking.components[0].dimension is Dimension.PARKING_TIME


def test_a_tariff_survives_export_and_import_unchanged():
    terms = tariff_terms_from_ocpi(COMPLEX_TARIFF)

    exported = tariff_terms_to_ocpi(
        terms,
        tariff_id="14",
        country_code="DE",
        party_id="ALL",
        last_updated=dt.datetime(2015, 6, 29, 20, 39, 9, tzinfo=dt.UTC),
    )

    assert tariff_terms_from_ocpi(json.loads(json.dumps(exported))) == terms
    assert exported["last_updated"] == "2015-06-29T20:39:09Z"
    assert exported["elements"][2]["restrictions"]["day_of_week"] == ["MONDAY", "FRIDAY"]


def test_a_step_size_of_0_is_kept_through_import_and_export():
    document = json.loads(json.dumps(COMPLEX_TARIFF))
    for element in document["elements"]:
        element["price_components"][0]["step_size"] = 0

    terms = tariff_terms_from_ocpi(document)
    exported = tariff_terms_to_ocpi(
        terms,
        tariff_id="14",
        country_code="DE",
        party_id="ALL",
        last_updated=dt.datetime(2015, 6, 29, 20, 39, 9, tzinfo=dt.UTC),
    )

    assert [element.components[0].step_size for element in terms.elements] == [0, 0, 0]
    assert exported["elements"] == document["elements"]
    assert tariff_terms_from_ocpi(json.loads(json.dumps(exported))) == terms


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda t: t.update(currency="EUX"), "tariff.currency"),
        (lambda t: t.pop("currency"), "tariff.currency"),
        (lambda t: t.update(elements=[]), "tariff"),
        (
            lambda t: t["elements"][0]["price_components"][0].update(price=-1),
            "tariff.elements[0].price_components[0].price",
        ),
        (
            lambda t: t["elements"][1]["price_components"][0].update(step_size=-1),
            "tariff.elements[1].price_components[0].step_size",
        ),
        (
            lambda t: t["elements"][2]["restrictions"].update(start_time="9:00"),
            "tariff.elements[2].restrictions.start_time",
        ),
        (
            lambda t: t["elements"][2]["restrictions"].update(day_of_week=["FUNDAY"]),
            "tariff.elements[2].restrictions.day_of_week",
        ),
        (
            lambda t: t["elements"][0]["price_components"].append(
                {"type": "FLAT", "price": 1, "step_size": 1}
            ),
            "tariff.elements[0].price_components",
        ),
        (
            lambda t: t["elements"][0]["price_components"][0].update(type="KWH"),
            "tariff.elements[0].price_components[0].type",
        ),
        (
            lambda t: t["elements"][0]["price_components"][0].update(vat=100.01),
            "tariff.elements[0].price_components[0].vat",
        ),
        (
            lambda t: t.update(max_price={"excl_vat": 1.49}),
            "tariff.max_price.excl_vat",
        ),
        (
            lambda t: t.update(max_price={"excl_vat": 1.5, "incl_vat": 1.79}),
            "tariff.max_price.incl_vat",
        ),
        (
            lambda t: t.update(min_price={"excl_vat": 1.5, "incl_vat": 1.49}),
            "tariff.min_price.incl_vat",
        ),
        (
            lambda t: t["elements"][0]["price_components"][0].update(price=10**9),
            "tariff.elements[0].price_components[0].price",
        ),
        (
            lambda t: t["elements"][1]["price_components"][0].update(step_size=10**9),
            "tariff.elements[1].price_components[0].step_size",
        ),
        (
            lambda t: t["elements"][1]["restrictions"].update(max_current=1e30),
            "tariff.elements[1].restrictions.max_current",
        ),
        (
            lambda t: t["elements"][2]["restrictions"].update(max_duration=10**12),
            "tariff.elements[2].restrictions.max_duration",
        ),
    ],
)
def test_a_malformed_tariff_is_refused_naming_the_json_path(change, field):
    document = json.loads(json.dumps(COMPLEX_TARIFF))
    change(document)

    with pytest.raises(OcpiFormatError) as refused:
        tariff_terms_from_ocpi(document)

    assert refused.value.field == field
    assert refused.value.code == "charging.ocpi_format"


def test_vat_rates_from_0_to_100_are_read_as_given():
    document = json.loads(json.dumps(COMPLEX_TARIFF))
    document["elements"][0]["price_components"][0]["vat"] = 100
    document["elements"][1]["price_components"][0]["vat"] = 0

    terms = tariff_terms_from_ocpi(document)

    assert [terms.elements[i].components[0].vat_rate for i in (0, 1)] == [Decimal(100), 0]


def test_a_maximum_price_equal_to_the_minimum_is_read():
    document = {**COMPLEX_TARIFF, "max_price": {"excl_vat": 1.5, "incl_vat": 1.8}}

    terms = tariff_terms_from_ocpi(document)

    assert terms.max_price == terms.min_price == Price(Decimal("1.5"), Decimal("1.8"))


CDR = {
    "id": "CDR-1",
    "currency": "EUR",
    "start_date_time": "2026-06-01T08:00:00Z",
    "end_date_time": "2026-06-01T10:30:00Z",
    "cdr_token": {"uid": "04A1B2C3", "type": "RFID"},
    "total_energy": 15.5,
    "total_cost": {"excl_vat": 5.0, "incl_vat": 6.05},
    "charging_periods": [
        {
            "start_date_time": "2026-06-01T08:00:00Z",
            "dimensions": [{"type": "ENERGY", "volume": 15.5}, {"type": "TIME", "volume": 2}],
        },
        {
            "start_date_time": "2026-06-01T10:00:00Z",
            "dimensions": [{"type": "PARKING_TIME", "volume": 0.5}],
        },
    ],
}


def test_cdr_periods_last_until_the_next_period_or_the_end():
    cdr = cdr_from_ocpi(CDR)

    charging, parked = cdr.periods
    assert (charging.start, charging.end) == (
        dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC),
        dt.datetime(2026, 6, 1, 10, tzinfo=dt.UTC),
    )
    assert (charging.energy_wh, charging.charging) == (Decimal("15500.0"), True)
    assert (parked.end, parked.charging) == (dt.datetime(2026, 6, 1, 10, 30, tzinfo=dt.UTC), False)
    assert cdr.total_energy_wh == 15500
    assert cdr.total_cost == Price(Decimal("5.0"), Decimal("6.05"))
    assert cdr.token_uid == "04A1B2C3"


def test_cdr_periods_carry_current_and_power_as_one_value_or_as_their_lowest_and_highest():
    document = json.loads(json.dumps(CDR))
    document["charging_periods"][0]["dimensions"] += [
        {"type": "MIN_CURRENT", "volume": 6},
        {"type": "MAX_CURRENT", "volume": 16},
        {"type": "MIN_POWER", "volume": 1.4},
        {"type": "MAX_POWER", "volume": 11},
    ]
    document["charging_periods"][1]["dimensions"] += [
        {"type": "CURRENT", "volume": 0},
        {"type": "POWER", "volume": 0},
    ]

    charging, parked = cdr_from_ocpi(document).periods

    measured = ("current_a", "min_current_a", "max_current_a", "power_kw", "min_power_kw")
    assert [getattr(charging, name) for name in (*measured, "max_power_kw")] == [
        None,
        Decimal(6),
        Decimal(16),
        None,
        Decimal("1.4"),
        Decimal(11),
    ]
    assert [getattr(parked, name) for name in (*measured, "max_power_kw")] == [
        Decimal(0),
        None,
        None,
        Decimal(0),
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: c.update(currency="XXY"), "cdr.currency"),
        (lambda c: c.update(end_date_time="2026-06-01T07:00:00Z"), "cdr.end_date_time"),
        (lambda c: c.update(start_date_time="yesterday"), "cdr.start_date_time"),
        (lambda c: c["charging_periods"].reverse(), "cdr.charging_periods"),
        (lambda c: c.update(total_energy="lots"), "cdr.total_energy"),
        (
            lambda c: c["charging_periods"][0]["dimensions"][0].update(volume=1e30),
            "cdr.charging_periods[0].dimensions[0].volume",
        ),
    ],
)
def test_a_malformed_cdr_is_refused_naming_the_json_path(change, field):
    document = json.loads(json.dumps(CDR))
    change(document)

    with pytest.raises(OcpiFormatError) as refused:
        cdr_from_ocpi(document)

    assert refused.value.field == field


@pytest.mark.parametrize(
    ("value", "unit", "wh"),
    [("12345", "Wh", 12345), ("12.3456", "kWh", 12346), ("0.0004", "kWh", 0), ("7", None, 7)],
)
def test_energy_readings_honour_their_unit(value, unit, wh):
    assert energy_wh_from_reading(value, unit) == wh


def test_power_and_state_of_charge_readings():
    assert power_w_from_reading("7.4", "kW") == 7400
    assert power_w_from_reading("11000", "W") == 11000
    assert state_of_charge_from_reading("80.4") == 80


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: energy_wh_from_reading("12", "MWh"), "energy_unit"),
        (lambda: energy_wh_from_reading("abc", "Wh"), "energy"),
        (lambda: energy_wh_from_reading("-5", "Wh"), "energy"),
        (lambda: energy_wh_from_reading("NaN", "Wh"), "energy"),
        (lambda: power_w_from_reading("5", "hp"), "power_unit"),
        (lambda: state_of_charge_from_reading("101"), "state_of_charge"),
    ],
)
def test_unreadable_meter_values_are_refused(call, field):
    with pytest.raises(MeterValueFormatError) as refused:
        call()

    assert refused.value.field == field
