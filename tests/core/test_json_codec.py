"""Large JSON documents are read fast, and exactly as the standard library reads them."""

import io
import json
import math

import pytest
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from core.json_codec import json_bytes, read_json
from core.rest import JSONParser

DOCUMENTS = [
    b'{"tweet_id": 1674486844367728641, "page": {"id": "y2j98763kz"}}',  # 19 digits: 64 bits
    b'{"id": 18446744073709551615}',  # the largest unsigned 64-bit integer
    b'{"id": 18446744073709551616}',  # one beyond: a float in orjson, exact here
    b'{"id": -9223372036854775809}',  # below the smallest signed 64-bit integer
    b'{"n": 123456789012345678901234567890, "m": -1}',
    b'{"x": 0.1, "y": 1e-7, "z": 2.5e300, "w": -0.0}',
    b'{"a": 1, "a": 2}',  # a repeated key: the last one wins
    b'{"title": "St\\u00f6rung \\u2028 \xe2\x9c\x93", "nul": "\\u0000"}',
    b'\xef\xbb\xbf{"bom": true}',  # a UTF-8 byte-order mark
    '{"utf16": "ok"}'.encode("utf-16"),
    b'{"lone": "\\ud800"}',  # a lone surrogate
    b"[NaN, Infinity, 1e400]",  # the standard library's extensions
    b"  [1, 2]\n",
]


@pytest.mark.parametrize("data", DOCUMENTS)
def test_documents_read_exactly_as_the_standard_library_reads_them(data):
    expected, got = json.loads(data), read_json(data)

    assert repr(got) == repr(expected)  # repr: NaN != NaN, and 1 == 1.0 would hide a float


@pytest.mark.parametrize("data", [b"", b"{", b'{"a": 1,}', b"[1] x", b"\xff\xfe\x00"])
def test_what_the_standard_library_refuses_is_refused_alike(data):
    with pytest.raises(ValueError) as standard:
        json.loads(data)
    with pytest.raises(ValueError) as ours:
        read_json(data)

    assert type(ours.value) is type(standard.value)


def test_written_json_reads_back_to_the_same_values():
    value = {"big": 2**70, "negative": -(2**64), "text": "エラー ✓ \u2028", "ids": [1, 2.5]}

    assert json.loads(json_bytes(value)) == value
    assert json.loads(json_bytes({"nan": math.nan})) == {"nan": None}  # JSON has no NaN


@pytest.mark.parametrize("data", DOCUMENTS[:8])
def test_the_api_reads_request_bodies_exactly(data):
    assert repr(JSONParser().parse(io.BytesIO(data))) == repr(json.loads(data))


@pytest.mark.parametrize("data", [b'{"severity": NaN}', b"{", b'\xef\xbb\xbf{"bom": 1}'])
def test_the_api_refuses_what_drf_refuses_with_the_same_message(data):
    with pytest.raises(ParseError) as ours:
        JSONParser().parse(io.BytesIO(data))
    with pytest.raises(ParseError) as drf:
        parsers.JSONParser().parse(io.BytesIO(data))

    assert str(ours.value.detail) == str(drf.value.detail)
    assert str(ours.value.detail).startswith("JSON parse error")
