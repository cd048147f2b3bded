"""What Hindsight can store, index and show, checked before anything is written.

Forms, the API and the importer ask the same questions here, so hostile or broken input gets
a message naming its field instead of a server error, and nothing is written:

* **Times** between the years 1900 and 2999. Python holds years 1 to 9999, but a time at
  either end cannot be moved into every reader's zone (the page would fail for them), and
  PostgreSQL stores times Python cannot read back.
* **Text** without a NUL character or a lone surrogate: PostgreSQL refuses the first, and
  the second is not text at all (UTF-8 cannot encode it). Django's and DRF's char fields
  refuse NULs themselves; the importer asks ``text_problem``.
* **Nesting** of Markdown lists and quotes, and of HTML elements, at most ``MAX_NESTING``
  deep: python-markdown recurses once per level and overflows Python's stack a few hundred
  levels down, and the HTML sanitiser slows quadratically with depth.
* **Searchable text** (title, summary, impact, analysis, lessons) that fits the incident's
  full-text index: PostgreSQL refuses a ``tsvector`` over 1 MB (``search_index_problem``).
* **URLs kept in a unique index** of at most ``INDEXED_URL_BYTES``: a B-tree entry holds at
  most 2,704 bytes, and 1,000 characters beyond ASCII take up to 4,000.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction

from postmortems.choices import SEARCH_CONFIG

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)  # the first moment out of range
TIME_RANGE = "between the years 1900 and 2999"
TIME_MESSAGE = f"Give a time {TIME_RANGE}."

MAX_NESTING = 64
NESTING = f"nested deeper than {MAX_NESTING} levels (lists, quotes or HTML elements)"
NESTING_MESSAGE = f"This is {NESTING}, too deep to show. Flatten it."

INDEXED_URL_BYTES = 2000

# --- Times ---------------------------------------------------------------------------


def time_in_range(value: datetime) -> bool:
    """Whether ``value`` (aware; a naive one is read as UTC) lies in the years 1900 to 2999."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return EARLIEST <= value < LATEST  # compared as instants: no conversion to overflow


def validate_time(value: datetime | None) -> None:
    if value is not None and not time_in_range(value):
        raise ValidationError(TIME_MESSAGE, code="time_out_of_range")


# --- Text ------------------------------------------------------------------------------

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> bool:
    """Whether PostgreSQL stores ``text``: the quick answer, for text by the megabyte."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode()  # C's speed, where a regular expression takes ten times as long
    except UnicodeEncodeError:
        return False  # a lone surrogate
    return True


def text_problem(value: str) -> str | None:
    """Why PostgreSQL cannot store ``value`` as text, in words; None when it can."""
    found = UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "holds a NUL character (\\x00), which PostgreSQL cannot store"
    return f"holds a lone surrogate (U+{ord(found.group()):04X}), which is not text"


# --- Nesting ---------------------------------------------------------------------------

# Lines that may open many levels: a long run of indentation, quote and list markers. Only
# these are read closely, so ordinary text costs one search.
DEEP_LINE = re.compile(rf"^[ \t>*+\-\d.)]{{{MAX_NESTING},}}", re.MULTILINE)
LINE_PREFIX = re.compile(r"(?:>|[*+-](?=[ \t])|\d{1,9}[.)](?=[ \t])|[ \t])*")
MARKER = re.compile(r">|[*+-]|\d{1,9}[.)]")
TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)(?:\s[^<>]*?)?(/?)>")
# Elements that never hold others, or that the next of their kind closes (<p>, <li>…): they
# add no depth however many are left open.
FLAT_ELEMENTS = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody",
        "tfoot", "option", "optgroup", "rb", "rp", "rt", "rtc", "caption", "colgroup", "html",
        "head", "body",
    }
)  # fmt: skip


def nesting_problem(text: str, body_format: str = "markdown") -> str | None:
    """NESTING_MESSAGE when Markdown or HTML ``text`` nests deeper than MAX_NESTING."""
    if body_format == "text":
        return None  # shown escaped, line by line
    too_deep = html_depth_exceeds(text) or (
        body_format == "markdown" and markdown_depth_exceeds(text)
    )
    return NESTING_MESSAGE if too_deep else None


def validate_nesting(text: str) -> None:
    """A validator for Markdown fields."""
    if text and nesting_problem(text):
        raise ValidationError(NESTING_MESSAGE, code="nested_too_deep")


def markdown_depth_exceeds(text: str) -> bool:
    # Each list or quote marker opens a level, and so does every four columns of indent.
    for line in DEEP_LINE.finditer(text):
        prefix = LINE_PREFIX.match(text, line.start()).group()
        markers = len(MARKER.findall(prefix))
        # Less the space that follows each marker.
        columns = prefix.count(" ") + 4 * prefix.count("\t") - markers
        if markers + columns // 4 > MAX_NESTING:
            return True
    return False


def html_depth_exceeds(text: str) -> bool:
    if text.count("<") <= MAX_NESTING:
        return False  # fewer tags than levels: the common case, at the cost of one count
    depth = 0
    for tag in TAG.finditer(text):
        closing, name, self_closing = tag.groups()
        if self_closing or name.lower() in FLAT_ELEMENTS:
            continue
        depth = max(depth - 1, 0) if closing else depth + 1
        if depth > MAX_NESTING:
            return True
    return False


# --- The search index ----------------------------------------------------------------------

SEARCHED_FIELDS = ("title", "summary", "impact", "analysis", "lessons")
SECTIONS = ("summary", "impact", "analysis", "lessons")
MEGABYTE = 1024 * 1024
# PostgreSQL refuses a tsvector whose words and positions take a megabyte or more. That is
# a measure of the index, not of the text: distinct short words take about twice their
# length in it, repeated words much less. So: up to SEARCH_TEXT_SAFE the text always fits
# (four times over); beyond SEARCH_TEXT_LIMIT it is refused without asking; in between,
# PostgreSQL computes the index itself (a tenth of a second for a megabyte), which is
# exact and costs nothing to the postmortems of ordinary length.
SEARCH_TEXT_SAFE = 256 * 1024
SEARCH_TEXT_LIMIT = MEGABYTE
TSVECTOR_TOO_LONG = "54000"  # program_limit_exceeded: "string is too long for tsvector"
# The incident's generated column (Incident.search_vector), on the values to be written.
SEARCH_VECTOR_SQL = (
    "SELECT length(setweight(to_tsvector(%(config)s::regconfig, %(title)s), 'A') "
    "|| setweight(to_tsvector(%(config)s::regconfig, %(summary)s), 'B') "
    "|| setweight(to_tsvector(%(config)s::regconfig, "
    "concat_ws(' ', %(impact)s, %(analysis)s, %(lessons)s)), 'C'))"
)
INDEX_SIZE = re.compile(r"\((\d+) bytes")


def search_index_problem(texts: Mapping[str, str]) -> tuple[str, str] | None:
    """(field, message) when the searchable ``texts`` (by field name) are too big for the
    full-text index; the field is the longest section, where a person would cut."""
    if sum(map(len, texts.values())) * 4 <= SEARCH_TEXT_SAFE:
        return None  # at most four bytes a character: no need to encode them
    size = sum(len(text.encode("utf-8", "surrogatepass")) for text in texts.values())
    if size <= SEARCH_TEXT_SAFE:
        return None
    sections = [name for name in SECTIONS if texts.get(name)] or ["title"]
    field = max(sections, key=lambda name: len(texts.get(name) or ""))
    together = "The title, summary, impact, analysis and lessons together"
    if size > SEARCH_TEXT_LIMIT:
        return field, (
            f"{together} are too long to index for search ({megabytes(size)}; at most 1 MB)."
        )
    index_size = search_index_overflow(texts)
    if index_size is None:
        return None
    return field, (
        f"{together} hold too many distinct words to index for search (their index would "
        f"take {megabytes(index_size)}; at most 1 MB). Shorten them."
    )


def search_index_overflow(texts: Mapping[str, str]) -> int | None:
    """The bytes PostgreSQL says the search index would take, when it refuses it; else None."""
    params = {name: texts.get(name) or "" for name in SEARCHED_FIELDS}
    try:
        # A savepoint: the refusal must not end the caller's transaction.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(SEARCH_VECTOR_SQL, {**params, "config": SEARCH_CONFIG})
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != TSVECTOR_TOO_LONG:
            raise
        found = INDEX_SIZE.search(str(exc))
        return int(found.group(1)) if found else SEARCH_TEXT_LIMIT
    return None


def megabytes(size: int) -> str:
    return f"{size / MEGABYTE:.1f} MB"


# --- URLs in unique indexes ---------------------------------------------------------------


def url_size_problem(url: str) -> str | None:
    size = len(url.encode("utf-8", "surrogatepass"))
    if size <= INDEXED_URL_BYTES:
        return None
    return (
        f"Ensure this URL has at most {INDEXED_URL_BYTES} bytes (it has {size}: characters "
        "beyond ASCII take 2 to 4 bytes each)."
    )


def validate_indexed_url(url: str) -> None:
    message = url and url_size_problem(url)
    if message:
        raise ValidationError(message, code="url_too_long")
