"""OCPI 2.2.1 tariff documents for tests: the refused ones each interface must refuse alike
(the probes of issue 13 among them)."""

import copy

import pytest

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
