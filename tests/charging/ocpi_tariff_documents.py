"""OCPI 2.2.1 tariff documents for tests: the refused ones each interface must refuse alike
(a minimum above the maximum, a price of 1e20, a VAT rate of 1000 among them), and a
hypothesis strategy of OCPI-like documents whose numbers reach far beyond what a tariff can
hold."""

import copy

import pytest
from hypothesis import strategies as st

TARIFF = {
    "country_code": "NL",
    "party_id": "EVN",
    "id": "DEPOT-DAY",
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.35, "vat": 21.0, "step_size": 1}]},
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 21.0, "step_size": 1}]},
    ],
    "last_updated": "2026-03-01T00:00:00Z",
}


def tariff_with(**changes) -> dict:
    """TARIFF with top-level fields replaced, or `energy_component` fields of its first
    element's ENERGY component replaced."""
    document = copy.deepcopy(TARIFF)
    document["elements"][0]["price_components"][0].update(changes.pop("energy_component", {}))
    document.update(changes)
    return document


ENERGY_PRICE = "tariff.elements[0].price_components[0].price"
# (document, the field its refusal names, the message), the same through every interface.
REFUSED_TARIFFS = [
    pytest.param(
        tariff_with(min_price={"excl_vat": 5}, max_price={"excl_vat": 1}),
        "tariff.max_price.excl_vat",
        "tariff.max_price.excl_vat is below tariff.min_price.excl_vat.",
        id="minimum price above the maximum",
    ),
    pytest.param(
        tariff_with(
            min_price={"excl_vat": 5, "incl_vat": 6.05}, max_price={"excl_vat": 5, "incl_vat": 6}
        ),
        "tariff.max_price.incl_vat",
        "tariff.max_price.incl_vat is below tariff.min_price.incl_vat.",
        id="minimum price incl. VAT above the maximum",
    ),
    pytest.param(
        tariff_with(energy_component={"price": 1e20}),
        ENERGY_PRICE,
        f"{ENERGY_PRICE} must be below 1000000000, got 1E+20.",
        id="price of 1e20",
    ),
    pytest.param(
        tariff_with(energy_component={"price": 123456.5}),
        ENERGY_PRICE,
        f"{ENERGY_PRICE} must be below 100000, got 123456.5.",
        id="price beyond its column",
    ),
    pytest.param(
        tariff_with(energy_component={"price": 0.123456}),
        ENERGY_PRICE,
        f"{ENERGY_PRICE} has more than 5 decimals, got 0.123456.",
        id="price with more decimals than kept",
    ),
    pytest.param(
        tariff_with(min_price={"excl_vat": 100000000}),
        "tariff.min_price.excl_vat",
        "tariff.min_price.excl_vat must be below 100000000, got 100000000.",
        id="minimum price beyond its column",
    ),
    pytest.param(
        tariff_with(energy_component={"vat": 1000}),
        "tariff.elements[0].price_components[0].vat",
        "tariff.elements[0].price_components[0].vat must be at most 100, got 1000.",
        id="VAT rate of 1000",
    ),
]


def _numbers() -> st.SearchStrategy:
    """Numbers as a JSON document may give them: ordinary prices most of the time, and the
    extremes (huge, negative, too many decimals, exactly on a bound) that broke imports."""
    return st.one_of(
        st.decimals(min_value=0, max_value=2, places=2).map(float),
        st.sampled_from([0, 1, 99.99, 100, 100.01, 1000, 99999.99999, 100000, 1e8, 1e9, 1e20]),
        st.sampled_from([0.123456, 1e-7, -0.01, 1e308]),
        st.integers(min_value=-1, max_value=2**63),
        st.floats(allow_nan=False, allow_infinity=False),
    )


def _price() -> st.SearchStrategy:
    return st.fixed_dictionaries({"excl_vat": _numbers()}, optional={"incl_vat": _numbers()})


def _component() -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {
            "type": st.sampled_from(["ENERGY", "FLAT", "PARKING_TIME", "TIME"]),
            "price": _numbers(),
        },
        optional={
            "vat": _numbers(),
            "step_size": st.integers(min_value=-1, max_value=2**40),
        },
    )


def _restrictions() -> st.SearchStrategy:
    numbers = {
        key: _numbers()
        for key in ("min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power")
    }
    return st.fixed_dictionaries(
        {},
        optional={
            **numbers,
            "min_duration": st.integers(min_value=-1, max_value=2**40),
            "max_duration": st.integers(min_value=-1, max_value=2**40),
            "start_time": st.sampled_from(["00:00", "07:00", "22:00", "24:00"]),
            "end_time": st.sampled_from(["00:00", "07:00", "22:00"]),
            "day_of_week": st.lists(st.sampled_from(["MONDAY", "SATURDAY", "SUNDAY"])),
            "reservation": st.sampled_from(["RESERVATION", "RESERVATION_EXPIRES"]),
        },
    )


def _element() -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {"price_components": st.lists(_component(), min_size=1, max_size=3)},
        optional={"restrictions": _restrictions()},
    )


def ocpi_tariff_documents(*, currency: str = "EUR") -> st.SearchStrategy:
    """OCPI-like Tariff objects in `currency`: well-formed in shape, so they reach the checks of
    prices, VAT rates, steps, restrictions and the minimum and maximum price, with numbers
    drawn from ordinary to far beyond any column."""
    return st.fixed_dictionaries(
        {
            "id": st.sampled_from(["DEPOT-DAY", "GENERATED-1"]),
            "currency": st.just(currency),
            "elements": st.lists(_element(), min_size=1, max_size=3),
        },
        optional={
            "min_price": _price(),
            "max_price": _price(),
            "voltop_parking_grace_seconds": st.integers(min_value=-1, max_value=2**40),
            "country_code": st.just("NL"),
            "party_id": st.just("EVN"),
        },
    )
