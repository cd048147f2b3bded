"""What one subscriber's weekly digest says, as small dataclasses (no HTML here).

A digest covers its period and, for "the week in numbers", the twelve weeks before it.
The published incidents and completed action items of those thirteen weeks are read
once per sending run (a ``WeekIndex`` in the ``DigestCache``) and every subscriber's
filters are answered from it with set operations; what depends only on the filters and
the period is kept too, so a subscriber whose filters someone already had costs only
their own overdue action items. The queries per digest are a fixed number however many
postmortems, patterns or items a week has.
"""

from digests.content.builder import DigestCache, build_digest
from digests.content.entries import (
    ActionItemEntry,
    Digest,
    NumberUnit,
    PatternEntry,
    PostmortemEntry,
    RisingEntry,
    WeekNumber,
)

__all__ = [
    "ActionItemEntry",
    "Digest",
    "DigestCache",
    "NumberUnit",
    "PatternEntry",
    "PostmortemEntry",
    "RisingEntry",
    "WeekNumber",
    "build_digest",
]
