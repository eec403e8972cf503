"""JSON that comes from outside (uploaded files, files given to commands, API request bodies),
read within two limits: at most `JSON_MAX_BYTES` bytes and `JSON_MAX_DEPTH` levels of nesting.

Python's JSON reader recurses once per level, so a document nested some thousands of levels
deep ends in a RecursionError, and a huge one takes the memory. Both are refused here, before
the document is read, with a DomainError that names the limit; every reader of outside JSON
goes through `json_input_parse`, so the limits hold in one place."""

import json
import re
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings

from voltop.core.errors import DomainError

# Outside a string only brackets and quotes change the state; inside one, everything up to the
# closing quote is plain characters and escapes. Each pattern is one run matched greedily at a
# given position and never retried elsewhere, so every character is looked at once.
OUTSIDE_STRING_STATE_CHANGE = re.compile(r'[\[\]{}"]')
INSIDE_STRING = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)
OPENING = frozenset("[{")


class JsonInputRefused(DomainError):
    """JSON that cannot be read: not UTF-8, malformed, too large or too deeply nested."""

    code = "voltop.json_refused"


class JsonNotText(JsonInputRefused):
    code = "voltop.json_not_utf8"


class JsonMalformed(JsonInputRefused):
    code = "voltop.json_malformed"


class JsonTooLarge(JsonInputRefused):
    code = "voltop.json_too_large"


class JsonTooDeep(JsonInputRefused):
    code = "voltop.json_too_deep"


def json_nesting_depth(text: str, *, limit: int | None = None) -> int:
    """How many arrays and objects the deepest value of `text` lies in (0 for a bare number or
    string, 1 for `[1]`), counted in one pass without recursion; brackets inside strings do not
    count. With a `limit`, the count stops at the first level deeper than it and returns that.

    Outside a string, the next bracket or quote is found; a quote opens a string, which the
    string pattern reads to just before its closing quote, escapes included. A string that never
    closes ends the count there: the document is malformed, and nothing after the quote nests."""
    depth = deepest = 0
    position, length = 0, len(text)
    while position < length:
        state_change = OUTSIDE_STRING_STATE_CHANGE.search(text, position)
        if state_change is None:
            break
        character, position = state_change.group(), state_change.end()
        if character == '"':
            position = INSIDE_STRING.match(text, position).end()
            if position == length or text[position] != '"':
                break
            position += 1
        elif character in OPENING:
            depth += 1
            if depth > deepest:
                deepest = depth
                if limit is not None and deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


def json_input_parse(
    content: bytes | str,
    *,
    parse_float: Callable[[str], object] = Decimal,
    parse_constant: Callable[[str], object] | None = None,
):
    """The JSON value of `content` (bytes are read as UTF-8, a byte order mark allowed), with
    numbers that have a fraction or exponent read as Decimal unless `parse_float` says
    otherwise. Refused, naming the limit, when it is larger than `JSON_MAX_BYTES` or nests
    deeper than `JSON_MAX_DEPTH`; refused too when it is not UTF-8 or not JSON."""
    max_bytes, max_depth = settings.JSON_MAX_BYTES, settings.JSON_MAX_DEPTH
    size = len(content) if isinstance(content, bytes) else len(content.encode(errors="replace"))
    if size > max_bytes:
        raise JsonTooLarge(
            f"the JSON is larger than {max_bytes:,} bytes, the limit (JSON_MAX_BYTES)"
        )
    if isinstance(content, bytes):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise JsonNotText("the file is not UTF-8 text") from error
    else:
        text = content
    if json_nesting_depth(text, limit=max_depth) > max_depth:
        raise JsonTooDeep(
            f"the JSON nests deeper than {max_depth} levels, the limit (JSON_MAX_DEPTH)"
        )
    try:
        return json.loads(text, parse_float=parse_float, parse_constant=parse_constant)
    except json.JSONDecodeError as error:
        raise JsonMalformed(f"malformed JSON: {error}") from error
