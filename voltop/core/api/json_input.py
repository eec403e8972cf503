"""JSON the API reads, within the limits of `voltop.core.json_input` (JSON_MAX_BYTES,
JSON_MAX_DEPTH): the parser of JSON request bodies, and the field for a JSON value, which a
form-encoded request sends as text. What goes over a limit is a 400 naming it, never a 500."""

from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils.json import strict_constant

from voltop.core.json_input import JsonInputRefused, json_input_parse


class LimitedJSONParser(JSONParser):
    """DRF's JSON parser, reading at most JSON_MAX_BYTES (and one more byte, to know the body
    is larger) and refusing a body nested deeper than JSON_MAX_DEPTH. Numbers are read as DRF
    reads them; NaN and Infinity, which are not JSON, are refused."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read(settings.JSON_MAX_BYTES + 1).decode(encoding)
        except UnicodeDecodeError as error:
            raise ParseError(f"JSON parse error - the body is not {encoding} text.") from error
        except (AttributeError, ValueError) as error:
            raise ParseError("JSON parse error - the body cannot be read.") from error
        try:
            return json_input_parse(text, parse_float=float, parse_constant=strict_constant)
        except JsonInputRefused as error:
            raise ParseError(f"JSON parse error - {error.message}.", code=error.code) from error
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}.") from error


class LimitedJSONField(serializers.JSONField):
    """A JSON value; one sent as text (a form field) is read within the same limits as a JSON
    body, and a refusal names the field."""

    def to_internal_value(self, data):
        if self.binary or getattr(data, "is_json_string", False):
            try:
                return json_input_parse(data, parse_float=float, parse_constant=strict_constant)
            except JsonInputRefused as error:
                raise serializers.ValidationError(error.message, code=error.code) from error
            except ValueError as error:
                raise serializers.ValidationError(str(error), code="invalid") from error
        return super().to_internal_value(data)
