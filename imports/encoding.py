"""JSON text of payload documents, written fast.

An import writes each incident's own JSON beside it (hundreds a chunk), and a queued payload
as a whole (megabytes): orjson writes them about fifteen times faster than the standard
library. It refuses what it cannot write exactly (integers beyond 64 bits, strings holding
lone surrogates); the standard library writes those. A not-a-number float, which only the
standard library's lenient reader lets in, becomes null: JSON has no such value, and
PostgreSQL's ``jsonb`` refuses the standard library's ``NaN``.
"""

from __future__ import annotations

import json

import orjson


def json_bytes(value: object) -> bytes:
    """``value`` as compact UTF-8 JSON."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: beyond what it writes exactly
        return json.dumps(value).encode()


def json_text(value: object) -> str:
    return json_bytes(value).decode()
