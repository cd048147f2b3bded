"""A pinned clock for tests, shared with the processes they start.

``pin(moment)`` moves this process's clock to ``moment``; ``offset()`` is how far the
pinned clock is from the real one, which ``tests.processes`` hands to every child
process it starts, so a worker or beat lives in the same week and hour as the test
that started it. Children run under ``python -m tests.clocked``, which moves their
clock by that offset before the real program starts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import time_machine

OFFSET_VARIABLE = "HINDSIGHT_TEST_CLOCK_OFFSET"

# The moments a weekly digest is sensitive to. Subscriptions default to Monday 09:00 UTC
# and the tests use zones from Tokyo (+9) to Los Angeles (-8): Monday 09:00 is Sunday
# 15:00 UTC in Tokyo's clock's ISO week and Monday 17:00 UTC in Los Angeles'. Each
# moment below sits on one side of such a boundary, or of the ISO week's own.
DIGEST_BOUNDARIES = {
    "sun-1459Z": datetime(2026, 12, 6, 14, 59, tzinfo=UTC),
    "sun-1500Z": datetime(2026, 12, 6, 15, 0, tzinfo=UTC),
    "sun-2359Z": datetime(2026, 12, 6, 23, 59, tzinfo=UTC),
    "mon-0000Z": datetime(2026, 12, 7, 0, 0, tzinfo=UTC),
    "mon-0800Z": datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
    "mon-0900Z": datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
    "mon-1659Z": datetime(2026, 12, 7, 16, 59, tzinfo=UTC),
    "mon-1700Z": datetime(2026, 12, 7, 17, 0, tzinfo=UTC),
    "wed-1200Z": datetime(2026, 12, 9, 12, 0, tzinfo=UTC),
}

_offset: float | None = None


@contextmanager
def pin(moment: datetime, *, tick: bool = False) -> Iterator[time_machine.Traveller]:
    """Move the clock to ``moment`` (still, or ticking from there) for the block."""
    global _offset
    previous = _offset
    _offset = moment.timestamp() - real_time()
    try:
        with time_machine.travel(moment, tick=tick) as traveller:
            yield traveller
    finally:
        _offset = previous


def offset() -> float | None:
    """Seconds between the pinned clock and the real one; None when nothing is pinned.

    A still clock drifts from a child's ticking one by the time the test has taken so
    far; that is seconds, never an hour, which is what the digests depend on.
    """
    return _offset


def real_time() -> float:
    """The machine's clock, whatever time_machine says."""
    if time_machine.escape_hatch.is_travelling():
        return time_machine.escape_hatch.time.time()
    return time.time()
