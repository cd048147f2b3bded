"""Helpers every status-page parser shares: JSON loading, time parsing, ids, body formats.

Pure functions only: no Django, no database, no network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime

from core.json_codec import MAX_DEPTH, nested_deeper_than, read_json
from imports.records import ImportBatch, ImportedIncident, ItemError, PayloadError

IMPACT_RANK = {"none": 0, "minor": 1, "major": 2, "critical": 3}
IMPACTS = (*IMPACT_RANK, "maintenance")

# Lifecycle words that mean "this incident is over" (Statuspage incidents and
# maintenances; the other formats map their own states onto these).
CLOSED_STATUSES = frozenset({"resolved", "postmortem", "completed"})

# Epoch seconds as AWS writes them ("1631281173"). Nine to eleven digits keeps
# compact ISO dates ("20210810") from being read as 1970 timestamps.
EPOCH = re.compile(r"\d{9,11}(?:\.\d+)?")
# Pages write these where they mean "no time" (status.io "", cState "<no value>").
NO_TIME = frozenset({"", "<no value>", "null", "none"})

# Only real HTML tag names count, so Markdown or prose such as "<none>" or
# "a < b > c" stays text.
HTML_TAG = re.compile(
    r"</?(?:a|b|i|u|p|br|hr|ul|ol|li|em|strong|small|span|div|var|code|pre|blockquote"
    r"|h[1-6]|table|thead|tbody|tr|td|th|img|sup|sub|dl|dt|dd)\b[^<>]*>",
    re.IGNORECASE,
)


class ItemProblem(ValueError):
    """One incident of a payload is unreadable; it is skipped and reported."""


# --- Payload loading -------------------------------------------------------------


class DecodedJSON(bytes):
    """JSON text that arrives with its document already decoded: a payload pushed to the
    API, which the request decoded once. Parsing it again would decode a megabyte twice."""

    document: object

    def __new__(cls, data: bytes, document: object) -> DecodedJSON:
        text = super().__new__(cls, data)
        text.document = document
        return text


def load_json(data: bytes, label: str) -> object:
    """The decoded JSON document; PayloadError when the bytes are not JSON at all."""
    if isinstance(data, DecodedJSON):
        return data.document
    if not data.strip():
        raise PayloadError(f"empty payload: expected {label} JSON")
    if too_deep(data):
        raise PayloadError(f"not {label} JSON: nested deeper than {MAX_DEPTH} levels")
    try:
        # As json.loads on bytes: UTF-8/16/32 (and a UTF-8 BOM) detected, and integers
        # kept exact, so ids beyond 2^53 never pass through a float.
        return read_json(data)
    except UnicodeDecodeError as exc:
        raise PayloadError(f"not {label} JSON: undecodable bytes ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"not {label} JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except ValueError as exc:  # an integer of thousands of digits: Python reads none
        raise PayloadError(f"not {label} JSON: {exc}") from exc
    except RecursionError as exc:
        raise PayloadError(f"not {label} JSON: nested deeper than {MAX_DEPTH} levels") from exc


def too_deep(data: bytes) -> bool:
    """Whether the JSON text nests too deep to read; checked in UTF-8 (a page may send UTF-16
    or 32). Undecodable bytes are left to the reading, which says where they are."""
    encoding = json.detect_encoding(data)
    if encoding not in ("utf-8", "utf-8-sig"):
        try:
            data = data.decode(encoding).encode()
        except UnicodeError:
            return False
    return nested_deeper_than(data)


def load_json_object(data: bytes, label: str) -> dict:
    payload = load_json(data, label)
    if not isinstance(payload, dict):
        raise PayloadError(
            f"not a {label} payload: expected a JSON object, got {json_type(payload)}"
        )
    return payload


def json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def optional_list(payload: dict, key: str, label: str) -> list:
    """``payload[key]`` as a list; null or missing is empty (incident.io pages send null)."""
    value = payload.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"not a {label} payload: '{key}' is {json_type(value)}, not an array")
    return value


# --- Per-incident error collection ----------------------------------------------------


def collect(
    batch: ImportBatch,
    items: Iterable[object],
    parse_one: Callable[[dict], ImportedIncident],
    *,
    id_keys: tuple[str, ...] = ("id",),
    label: str = "incident",
) -> None:
    """Parse each item into ``batch``; a broken one becomes an ItemError, the rest go on."""
    if _counting.get():
        batch.skipped += sum(1 for _ in items)
        return
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            message = f"{label} #{position} is {json_type(item)}, not an object"
            batch.errors.append(ItemError("?", message))
            continue
        try:
            batch.incidents.append(parse_one(item))
        # TypeError/KeyError/AttributeError: a field of an unexpected JSON type
        # deep inside one incident must not stop the others; nor an out-of-range number.
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            external_id = first_id(item, id_keys) or "?"
            batch.errors.append(ItemError(external_id, item_message(exc, label)))


# Set while a payload is only counted: ``collect`` then counts the items it is given
# instead of parsing them, and everything else a parser checks of the document still runs.
_counting: ContextVar[bool] = ContextVar("counting_items", default=False)


def count_items(parse: Callable[[bytes], ImportBatch], data: bytes) -> int:
    """The incidents ``parse`` would read from ``data``, after the checks that refuse the
    payload as a whole (which raise PayloadError as they do when parsing); the items
    themselves are not parsed. A parser that does not ``collect`` parses them all."""
    token = _counting.set(True)
    try:
        batch = parse(data)
    finally:
        _counting.reset(token)
    return batch.skipped + len(batch.incidents) + len(batch.errors)


def item_message(exc: Exception, label: str) -> str:
    if isinstance(exc, ItemProblem):
        return str(exc)
    return f"unreadable {label}: {type(exc).__name__}: {exc}"


def first_id(item: dict, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        try:
            value = text_id(item.get(key))
        except ItemProblem:
            continue
        if value:
            return value
    return None


# --- Values ----------------------------------------------------------------------


def text_id(value: object) -> str | None:
    """An external id as ``str``; None when absent. Integers convert exactly."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    # A float id has already lost digits somewhere upstream: refuse it.
    raise ItemProblem(f"id {value!r} is {json_type(value)}, not a string or integer")


def require_id(item: dict, key: str, label: str = "incident") -> str:
    value = text_id(item.get(key))
    if value is None:
        raise ItemProblem(f"{label} has no '{key}'")
    return value


def text(value: object) -> str:
    """A body or title as text; null is empty."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def one_line(value: object) -> str:
    """A title on one line (GCP headlines and some feed titles carry newlines)."""
    return " ".join(text(value).split())


def body_format(body: str, default: str = "text") -> str:
    """ "html" when the body carries HTML tags (legacy Statuspage imports, feeds), else default."""
    return "html" if HTML_TAG.search(body) else default


# --- Time ------------------------------------------------------------------------


def parse_time(
    value: object, what: str = "time", *, naive_tz: tzinfo | None = None
) -> datetime | None:
    """A page timestamp as aware UTC; None for null/empty. ItemProblem when unreadable.

    Accepts ISO 8601 (``Z``, ``+00:00``, ``-07:00``, any fraction), RFC 822
    (``PST``/``PDT``/``EST``/``EDT``/``GMT``/``UT``/``Z``/``+0000``) and epoch
    seconds (strings or numbers). A timestamp without a zone is refused unless
    the format says which zone its naive times are in (``naive_tz``).
    """
    if value is None:
        return None
    if type(value) is str and value[10:11] == "T":
        # The common case first (a JSON page's ISO time with its offset): one call. Anything
        # else, naive times included, takes the full path below.
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return in_utc(parsed, value, what)
    if isinstance(value, bool):
        raise ItemProblem(f"{what} {value!r} is not a timestamp")
    if isinstance(value, int | float):
        return from_epoch(value, what)
    if not isinstance(value, str):
        raise ItemProblem(f"{what} {value!r} is {json_type(value)}, not a timestamp")
    raw = value.strip()
    if raw.lower() in NO_TIME:
        return None
    if EPOCH.fullmatch(raw):
        return from_epoch(float(raw) if "." in raw else int(raw), what)
    parsed = parse_iso(raw) or parse_rfc822(raw)
    if parsed is None:
        raise ItemProblem(f"{what} {value!r} is not a readable timestamp")
    if parsed.tzinfo is None:
        if naive_tz is None:
            raise ItemProblem(f"{what} {value!r} has no timezone")
        parsed = parsed.replace(tzinfo=naive_tz)
    return in_utc(parsed, value, what)


def in_utc(parsed: datetime, value: object, what: str) -> datetime:
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # year 1 east of UTC, year 9999 west of it
        raise ItemProblem(f"{what} {value!r} is beyond the years a timestamp can hold") from exc


def require_time(value: object, what: str, *, naive_tz: tzinfo | None = None) -> datetime:
    parsed = parse_time(value, what, naive_tz=naive_tz)
    if parsed is None:
        raise ItemProblem(f"{what} is missing")
    return parsed


def from_epoch(value: int | float, what: str) -> datetime:
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ItemProblem(f"{what} {value!r} is not a usable epoch timestamp") from exc


def parse_iso(raw: str) -> datetime | None:
    # Python 3.11's fromisoformat reads "Z", offsets, and fractions of any
    # length (nanoseconds are truncated to microseconds).
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def parse_rfc822(raw: str) -> datetime | None:
    # The stdlib knows the US zone names feeds use (PST/PDT/EST/EDT/CST/CDT/
    # MST/MDT) plus GMT/UT/UTC/Z; an unknown name yields a naive datetime,
    # which parse_time then refuses rather than guessing.
    try:
        return parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None


def written_zone(value: object) -> tzinfo:
    """The offset an ISO timestamp is written in (a Statuspage page writes its times in its
    own zone: ``Z`` on GitHub's, ``-08:00`` on a Californian one); UTC when it gives none."""
    try:
        zone = datetime.fromisoformat(value).tzinfo if isinstance(value, str) else None
    except ValueError:
        zone = None
    return zone or UTC


def iso_z(moment: datetime) -> str:
    """A UTC instant as a compact, stable string for derived ids."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- Lifecycle and derived values ----------------------------------------------------


def real_end(
    *,
    resolved_at: datetime | None,
    started_at: datetime | None,
    created_at: datetime | None,
    closing_times: Iterable[datetime],
) -> datetime | None:
    """The end of a CLOSED incident, or None when the page gives no real one.

    Backfilled and imported history carries ``resolved_at == created_at ==
    started_at``: a zero-length outage that never happened. Then the display
    time of the last closing update stands in, if it is after the start;
    failing that the end is unknown (the upsert path marks the duration
    unknown) rather than invented.
    """
    if resolved_at is not None and not is_zero_length(resolved_at, started_at, created_at):
        return resolved_at
    last_close = max(closing_times, default=None)
    if last_close is not None and (started_at is None or last_close > started_at):
        return last_close
    return None


def is_zero_length(
    resolved_at: datetime, started_at: datetime | None, created_at: datetime | None
) -> bool:
    if created_at is not None and resolved_at == created_at:
        return True
    if started_at is None or resolved_at > started_at:
        return False
    # Pages move a start past the end, days past it at times: an end after the incident's
    # creation is still real (``imports/plan.py`` then starts the incident at its creation).
    return created_at is None or resolved_at < created_at


def worst_impact(impacts: Iterable[str], default: str = "minor") -> str:
    ranked = [i for i in impacts if i in IMPACT_RANK]
    return max(ranked, key=IMPACT_RANK.__getitem__, default=default)


# Feeds, Cachet and other formats without a severity field: infer it from the
# words a title uses. A full loss of service is "major"; slowness, errors and
# everything else a page bothered to report is "minor". Nothing is "critical"
# from words alone: no title says how widespread an outage is.
MAJOR_WORDS = re.compile(
    r"\b(?:outages?|unavailable|unavailability|unreachable|inaccessible|disruptions?"
    r"|not available|störung|ausfall)\b",
    re.IGNORECASE,
)


def impact_from_words(title: str) -> str:
    """minor or major, inferred from a title ("degraded" → minor, "outage" → major)."""
    return "major" if MAJOR_WORDS.search(title) else "minor"


def derived_update_ids(incident_id: str, times: list[datetime]) -> list[str]:
    """Stable ids for updates that have none: ``<incident>-<UTC time>``.

    ``times`` must be oldest first. Two updates at the same instant get
    ``-2``, ``-3``… counted oldest first, so prepending newer updates (what a
    re-fetch of a live incident does) never renumbers older ones.
    """
    seen: dict[str, int] = {}
    ids = []
    for moment in times:
        base = f"{incident_id}-{iso_z(moment)}"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return ids
