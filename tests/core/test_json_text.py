"""JSON text of documents with decimals: exact numbers, never floats."""

from decimal import Decimal

import pytest

from voltop.core.json_text import json_text


def test_decimals_are_written_as_numbers_of_exactly_their_digits():
    document = {"excl_vat": Decimal("0.50"), "energy": Decimal("20.500"), "big": Decimal("1E+3")}

    assert json_text(document) == '{\n  "excl_vat": 0.50,\n  "energy": 20.500,\n  "big": 1000\n}'


def test_other_values_are_written_as_json_writes_them():
    assert json_text({"name": "Zürich", "n": 2, "x": 0.5, "none": None, "list": []}) == (
        '{\n  "name": "Zürich",\n  "n": 2,\n  "x": 0.5,\n  "none": null,\n  "list": []\n}'
    )


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), object()])
def test_a_value_without_a_json_number_is_refused(value):
    with pytest.raises(TypeError):
        json_text({"value": value})
