"""What one subscriber's weekly digest says, as small dataclasses (no HTML here).

A digest covers its period and, for "the week in numbers", the twelve weeks before it.
A sending run's periods differ (subscribers' zones, weekdays and hours), so the
published incidents and completed action items of a span covering all their weeks are
read once per run (an ``IncidentWindow`` in the ``DigestCache``) and sliced per period,
and the patterns' new members since the earliest period began are read and matched to
patterns once (``PatternGrowth``). Every subscriber's filters are answered from those
with set operations; what depends only on the filters and the period is kept, and so is
each postmortem's and item's entry, so a subscriber whose filters someone already had
costs only reading their filters and their own overdue action items. The queries per
digest are a fixed number however many postmortems, patterns, items or periods a run has.
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
