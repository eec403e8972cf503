"""Outside JSON read within its limits: refused, naming the limit, when larger than
JSON_MAX_BYTES or nested deeper than JSON_MAX_DEPTH, however deep, and never by a
RecursionError."""

from decimal import Decimal

import pytest

from voltop.core.json_input import (
    JsonMalformed,
    JsonNotText,
    JsonTooDeep,
    JsonTooLarge,
    json_input_parse,
    json_nesting_depth,
)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"[[{{"', 0),
        ("[]", 1),
        ('{"a": [{"b": "]]\\"[["}], "c": {}}', 3),
        (nested(100_000), 100_000),
        ('["a\\\\", ["b"]]', 2),
        ('["a\\\\\\"]", "["]', 1),
        ('[{"k\\u005b": "\\u005d]]"}, "\\\\", [[]]]', 3),
        ('["\\n{\\t[", {}]', 2),
        ('"é[ü" [ "{"', 1),
    ],
)
def test_the_depth_counts_arrays_and_objects_but_not_brackets_in_strings(text, depth):
    assert json_nesting_depth(text) == depth


def test_numbers_with_a_fraction_are_read_as_exact_decimals():
    assert json_input_parse(b'\xef\xbb\xbf{"price": 0.1, "step": 1}') == {
        "price": Decimal("0.1"),
        "step": 1,
    }


def test_json_nested_to_the_limit_is_read(settings):
    settings.JSON_MAX_DEPTH = 64

    assert json_nesting_depth(nested(64)) == 64
    assert json_input_parse(nested(64)) == json_input_parse(nested(64).encode())


@pytest.mark.parametrize("depth", [65, 100_000])
def test_json_nested_deeper_than_the_limit_is_refused_naming_it(settings, depth):
    settings.JSON_MAX_DEPTH = 64

    with pytest.raises(JsonTooDeep) as refused:
        json_input_parse(nested(depth).encode())

    assert refused.value.code == "voltop.json_too_deep"
    assert refused.value.message == (
        "the JSON nests deeper than 64 levels, the limit (JSON_MAX_DEPTH)"
    )


def test_json_larger_than_the_limit_is_refused_naming_it(settings):
    settings.JSON_MAX_BYTES = 10
    at_limit = b'["abcdef"]'

    assert json_input_parse(at_limit) == ["abcdef"]
    with pytest.raises(JsonTooLarge) as refused:
        json_input_parse(b'["abcdefg"]')

    assert refused.value.code == "voltop.json_too_large"
    assert refused.value.message == "the JSON is larger than 10 bytes, the limit (JSON_MAX_BYTES)"


def test_a_text_is_measured_in_utf8_bytes(settings):
    settings.JSON_MAX_BYTES = 10

    with pytest.raises(JsonTooLarge):
        json_input_parse('["äöüß"]')


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (b"\xff\xfe[]", JsonNotText, "the file is not UTF-8 text"),
        (b'{"id": ', JsonMalformed, "malformed JSON: Expecting value: line 1 column 8 (char 7)"),
    ],
)
def test_what_is_not_utf8_json_is_refused(content, error, message):
    with pytest.raises(error) as refused:
        json_input_parse(content)

    assert refused.value.message == message


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ('[["never closed ]]]]', 2),
        ('[["ends in an escape \\', 2),
        ('[["\\"]]]]]', 2),
    ],
)
def test_a_string_that_never_closes_ends_the_count_where_it_opens(text, depth):
    assert json_nesting_depth(text) == depth


def test_the_count_stops_at_the_first_level_past_its_limit():
    assert json_nesting_depth(nested(1000) + "[" * 1000, limit=64) == 65
    assert json_nesting_depth(nested(64), limit=64) == 64


ONE_MB = 1_000_000


def test_a_megabyte_of_a_string_that_never_closes_is_refused_in_one_pass():
    with pytest.raises(JsonMalformed):
        json_input_parse(('["' + "a" * ONE_MB).encode())


def test_a_megabyte_of_escaped_quotes_in_a_string_that_never_closes_is_refused_in_one_pass():
    """A pattern for whole strings, tried again at every quote after the one that never
    closes, takes time that grows with the square of the size: some 18 s for 80 kB, most of
    an hour for this megabyte, one anonymous request keeping a worker busy."""
    with pytest.raises(JsonMalformed):
        json_input_parse(('["' + '\\"' * (ONE_MB // 2)).encode())


def test_a_megabyte_of_escaped_quotes_in_a_closed_string_is_read():
    assert json_input_parse(('["' + '\\"' * (ONE_MB // 2) + '"]').encode()) == ['"' * (ONE_MB // 2)]
