"""JSON nested too deep is recognised before it is read, exactly at the limit."""

import json

import pytest

from core.json_codec import MAX_DEPTH, jsonb_refusal, nested_deeper_than


def nested(depth: int, *, opener: str = '{"a":', closer: str = "}") -> bytes:
    return (opener * depth + "1" + closer * depth).encode()


@pytest.mark.parametrize(
    ("opener", "closer"), [('{"a":', "}"), ("[", "]"), ('[{"a":', "}]"), ('{"x":[', "]}")]
)
def test_the_limit_is_exact_for_objects_arrays_and_both(opener, closer):
    per_level = 2 if len(closer) == 2 else 1
    depth = MAX_DEPTH // per_level

    assert not nested_deeper_than(nested(depth, opener=opener, closer=closer))
    assert nested_deeper_than(nested(depth + 1, opener=opener, closer=closer))


@pytest.mark.parametrize(
    "text",
    [
        '["' + "[" * 500 + '"]',  # brackets inside a string are text
        '["\\"' + "[" * 500 + '"]',  # after an escaped quote, still inside the string
        '{"a": "' + "}" * 500 + '", "b": ' + "[" * 10 + "]" * 10 + "}",
        '["\\u005b\\u005b", "\\\\"]',  # an escaped backslash ends nothing
        "[" + ", ".join(['{"k": [1, {"m": "x]["}]}'] * 2000) + "]",  # wide, not deep
    ],
)
def test_brackets_in_strings_and_wide_documents_are_not_depth(text):
    json.loads(text)  # each is valid JSON

    assert not nested_deeper_than(text.encode())


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,  # never closed
        '{"a":' * 5_000,
        '["\\\\"' + ", [" * 100 + "]" * 100 + "]",  # the string ends before the brackets
        '["' + '"' + "[" * 100 + "1" + "]" * 100 + "]",  # an empty string, then depth
    ],
)
def test_deep_documents_are_caught_however_they_end(text):
    assert nested_deeper_than(text.encode())


def test_jsonb_refusal_names_the_place_of_a_nul_or_a_lone_surrogate():
    assert jsonb_refusal({"a": [1, {"b": "ok"}], "n": 2**70}) is None
    assert jsonb_refusal({"a": [1, {"b": "x\x00"}]}) == ("a.1.b", "a NUL character")
    assert jsonb_refusal({"a": "\ud800"}) == ("a", "a lone surrogate")
    assert jsonb_refusal({"key\x00": 1}) == ("key\x00", "a NUL character")
    assert jsonb_refusal({"text": "a literal \\u0000 is fine"}) is None
