"""JSON of large documents (pushed and polled status pages), read and written fast.

orjson reads JSON about twice as fast as the standard library and writes it fifteen times
as fast. It is used where it gives exactly the standard library's result; the standard
library does the rest:

* **Reading.** orjson reads integers beyond 64 bits as floats, losing digits: a document
  with a 20-digit run, or a minus and 19 digits, is read by the standard library. So is
  everything orjson refuses (NaN, lone surrogates, UTF-16, a byte-order mark), which the
  standard library then reads or refuses as it always did.
* **Writing.** orjson refuses integers beyond 64 bits and lone surrogates. It writes a
  not-a-number float, which only the standard library's lenient reader lets in, as null:
  JSON has no such value, and PostgreSQL's ``jsonb`` refuses the standard library's ``NaN``.
* **Nesting.** A document nested deeper than ``MAX_DEPTH`` is refused before it is read
  (``nested_deeper_than``): the standard library reads one thousand levels deep and then
  overflows Python's stack, orjson stops at 1,024 and writes at most 254, and no page or
  request of this project nests a tenth as deep.
"""

from __future__ import annotations

import json
import re

import orjson

# Every digit becomes "1", a minus "2", anything else "0": a number's digits become a run
# of ones that a substring search finds (a regular expression takes over ten times as long).
_DIGITS = bytes(
    0x31 if 0x30 <= byte <= 0x39 else 0x32 if byte == 0x2D else 0x30 for byte in range(256)
)
_BEYOND_64_BITS = (b"1" * 20, b"2" + b"1" * 19)
UNREAD = object()  # what read_json_fast leaves to the standard library

MAX_DEPTH = 64
# Brackets become parentheses and quotes stay; every other byte is dropped.
_BRACKETS = bytes.maketrans(b"{}[]", b"()()")
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'{}[]"')
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")


def read_json(data: bytes) -> object:
    """The document ``data`` holds, read as ``json.loads`` reads it (and failing as it does)."""
    document = read_json_fast(data)
    return json.loads(data) if document is UNREAD else document


def read_json_fast(data: bytes) -> object:
    """The document, or ``UNREAD`` when only the standard library reads it exactly."""
    marked = data.translate(_DIGITS)
    if any(run in marked for run in _BEYOND_64_BITS):
        return UNREAD
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return UNREAD


def nested_deeper_than(data: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON text ``data`` nests arrays and objects more than ``limit`` deep.

    Read without parsing, at a few milliseconds a megabyte: escapes go first (an escaped
    quote ends no string), then everything but brackets and quotes, then the strings (the
    text between a quote and the next). Each pass of removing ``()`` then takes away the
    innermost level everywhere, so a document ``limit`` deep is gone after ``limit``
    passes. Malformed text is the parser's to refuse, unless its unclosed brackets alone
    are too deep.
    """
    if b"\\" in data:
        data = _ESCAPE.sub(b"", data)
    # Two quotes side by side are an empty string, or the end of one and the start of the
    # next with no bracket between: removing them keeps every later quote's meaning.
    marks = data.translate(_BRACKETS, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in marks:
        marks = b"".join(marks.split(b'"')[::2])
    for _ in range(limit):
        inner = marks.replace(b"()", b"")
        if len(inner) == len(marks):
            break
        marks = inner
    return b"()" in marks or marks.count(b"(") > limit


def jsonb_refusal(value: object) -> tuple[str, str] | None:
    """Where ``value`` holds a string PostgreSQL's ``jsonb`` refuses, and what: the dotted
    path and "a NUL character" or "a lone surrogate"; None when it stores as it is.

    Written by orjson first, at a microsecond a kilobyte: it refuses a lone surrogate, and
    escapes a NUL as ``\\u0000``; only then is the document walked to find the place.
    """
    try:
        if b"\\u0000" not in orjson.dumps(value):
            return None
    except TypeError:  # a lone surrogate, or what orjson never writes (integers beyond 64 bits)
        pass
    return _refused_in(value, "")


def _refused_in(value: object, path: str) -> tuple[str, str] | None:
    if isinstance(value, str):
        if "\x00" in value:
            return path, "a NUL character"
        return (path, "a lone surrogate") if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        name = f"{path}.{key}" if path else str(key)
        found = (_refused_in(key, name) if isinstance(key, str) else None) or _refused_in(
            item, name
        )
        if found:
            return found
    return None


def json_bytes(value: object) -> bytes:
    """``value`` as compact UTF-8 JSON."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: beyond what it writes exactly
        return json.dumps(value).encode()


def json_text(value: object) -> str:
    return json_bytes(value).decode()
