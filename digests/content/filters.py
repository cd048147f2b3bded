"""A subscription's filters, in a hashable form subscribers with the same ones share."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse

from digests.content.entries import (
    SEVERITY_ORDER,
    absolute,
)
from digests.models import DigestSubscription


@dataclass(frozen=True)
class DigestFilters:
    """A subscription's filters, hashable so that subscribers can share results."""

    vendor_ids: frozenset[int] = frozenset()
    vendor_slugs: tuple[str, ...] = ()
    category_ids: frozenset[int] = frozenset()
    category_slugs: tuple[str, ...] = ()
    min_severity: str = ""

    @classmethod
    def of(cls, subscription: DigestSubscription) -> DigestFilters:
        if subscription.pk is None:  # an unsaved subscription (a preview) has no filters yet
            return cls(min_severity=subscription.min_severity)
        # .all() reads the prefetched rows when the caller used with_filters().
        vendors = sorted(subscription.vendors.all(), key=lambda v: v.slug)
        categories = sorted(subscription.categories.all(), key=lambda c: c.slug)
        return cls(
            vendor_ids=frozenset(v.pk for v in vendors),
            vendor_slugs=tuple(v.slug for v in vendors),
            category_ids=frozenset(c.pk for c in categories),
            category_slugs=tuple(c.slug for c in categories),
            min_severity=subscription.min_severity,
        )

    @property
    def severities(self) -> list[str]:
        """The severities at least as severe as the minimum (all when there is none)."""
        if not self.min_severity:
            return []
        return [s.value for s in SEVERITY_ORDER[: SEVERITY_ORDER.index(self.min_severity) + 1]]

    def list_url(self) -> str:
        """The incident list filtered the same way, as an absolute URL."""
        query = [("vendor", slug) for slug in self.vendor_slugs]
        query += [("category", slug) for slug in self.category_slugs]
        query += [("severity", severity) for severity in self.severities]
        path = reverse("postmortems:incident-list")
        return absolute(path + (f"?{urlencode(query)}" if query else ""))
