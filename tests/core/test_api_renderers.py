"""The API's JSON renderer writes what DRF's JSONRenderer writes: the same bytes, but for
the spelling of some numbers (0.00001 for 1e-05), which stay the same numbers."""

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from voltop.core.api.renderers import OrjsonRenderer

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
EXACT_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    INT64,
    st.text(),
    st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=2))])),
    st.dates(),
    st.times(),
    st.uuids(),
    st.timedeltas(),
)
NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=5),
)


def documents(scalars):
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(st.one_of(st.text(), INT64), children, max_size=5),
        ),
        max_leaves=30,
    )


def drf_rendered(data, accepted_media_type=None) -> bytes:
    return JSONRenderer().render(data, accepted_media_type)


@given(documents(EXACT_SCALARS))
def test_a_document_without_fractions_renders_as_drf_renders_it(document):
    assert OrjsonRenderer().render(document) == drf_rendered(document)


@given(documents(st.one_of(EXACT_SCALARS, NUMBERS)))
def test_any_document_renders_as_the_json_drf_renders(document):
    body = {"document": document}

    assert json.loads(OrjsonRenderer().render(body)) == json.loads(drf_rendered(body))


def test_what_serializers_and_errors_hold_renders_as_drf_renders_it():
    document = ReturnDict(
        {
            "id": 7,
            "price": {"currency": "EUR", "incl_vat": Decimal("12.40")},
            "started_at": dt.datetime(2026, 11, 22, 19, 0, 12, 345678, tzinfo=dt.UTC),
            "errors": ReturnList(
                [ErrorDetail("Line\u2028and paragraph\u2029 separators", code="invalid")],
                serializer=None,
            ),
            "label": gettext_lazy("This field is required."),
            "key": uuid.UUID("6c1e0d4e-3b1f-4a47-9a53-2f1d1c3a2b10"),
            3: "non-text key",
        },
        serializer=None,
    )

    rendered = OrjsonRenderer().render(document)

    assert rendered == drf_rendered(document)
    assert b"\\u2028" in rendered
    assert b"\\u2029" in rendered


def test_indented_output_is_drf_own():
    document = {"a": [1, 2, {"b": None}]}

    rendered = OrjsonRenderer().render(document, "application/json; indent=2")

    assert rendered == drf_rendered(document, "application/json; indent=2")
    assert rendered.startswith(b"{\n  ")


def test_an_integer_beyond_64_bits_renders_through_drf():
    document = {"big": 2**70}

    assert OrjsonRenderer().render(document) == b'{"big":1180591620717411303424}'


def test_a_value_neither_knows_is_refused_as_drf_refuses_it():
    with pytest.raises(TypeError, match="not JSON serializable"):
        OrjsonRenderer().render({"value": object()})


def test_a_float_nan_which_drf_refuses_renders_as_null():
    document = {"ratio": float("nan"), "limit": float("inf")}

    with pytest.raises(ValueError, match="Out of range float values"):
        drf_rendered(document)
    assert OrjsonRenderer().render(document) == b'{"ratio":null,"limit":null}'


def test_nothing_renders_as_nothing():
    assert OrjsonRenderer().render(None) == b""
