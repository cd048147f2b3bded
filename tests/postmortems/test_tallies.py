"""The published counts taken ahead of time, and the figures pages build from them."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from postmortems import facets, search
from postmortems.analytics import (
    category_role_counts,
    change_type_counts,
    vendor_downtime_by_year,
    vendor_incident_counts,
)
from postmortems.choices import FactorRole, ReviewStatus, Severity
from postmortems.models import (
    ChangeType,
    FailureCategory,
    Incident,
    IncidentVendor,
    LabelTally,
    SeverityTally,
    VendorTally,
    VendorYearTally,
)
from postmortems.same_outage import link_same_outage
from postmortems.tallies import counting_for, take_counts
from postmortems.views import vendors as vendor_views
from tests.factories import FactorFactory, IncidentFactory, VendorFactory
from tests.pages import next_link

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def incident(vendor, *, status=ReviewStatus.PUBLISHED, hours=2, authors=(), **fields):
    started = fields.pop("started_at", START)
    made = IncidentFactory(
        status=status, started_at=started, resolved_at=started + timedelta(hours=hours), **fields
    )
    IncidentVendor.objects.create(incident=made, vendor=vendor, is_primary=True)
    made.change_types.add(ChangeType.objects.get(slug="config-change"))
    FactorFactory(incident=made, category=FailureCategory.objects.get(slug="software-bug"))
    made.authors.add(*authors)
    return made


def figures(user, vendor):
    counting = counting_for(user)
    [row] = [r for r in vendor_incident_counts(counting) if r.vendor.id == vendor.id]
    [config] = [t for t in change_type_counts(counting) if t.entry.slug == "config-change"]
    roots = category_role_counts(FailureCategory.objects.get(slug="software-bug"), counting)
    return {
        "incidents": row.incident_count,
        "years": [(y.year, y.incident_count, y.downtime) for y in
                  vendor_downtime_by_year(vendor, counting)],
        "config-change": config.incident_count,
        "root causes": next(r.incident_count for r in roots if r.role == FactorRole.ROOT_CAUSE),
    }  # fmt: skip


def test_counts_taken_count_published_postmortems_and_each_outage_once(admin_user):
    acme = VendorFactory()
    feed = incident(acme, hours=1)
    written = incident(acme, hours=3, severity=Severity.CRITICAL)
    incident(acme, status=ReviewStatus.DRAFT)
    link_same_outage(incident=feed, other=written, user=admin_user)

    snapshot = take_counts()

    assert snapshot.taken_at == NOW
    tally = VendorTally.objects.get(vendor=acme)
    # Both published records are rows of the list; the outage counts once; no draft.
    assert (tally.records, tally.incidents, tally.unknown_duration) == (2, 1, 0)
    assert tally.last_started_at == START
    year = VendorYearTally.objects.get(vendor=acme)
    canonical = Incident.objects.get(id__in=[feed.id, written.id], same_outage_as=None)
    assert (year.year, year.incidents, year.downtime) == (2025, 1, canonical.duration)
    assert dict(SeverityTally.objects.values_list("severity", "records")) == {
        "major": 1,
        "critical": 1,
    }
    category = LabelTally.objects.get(vendor=None, category__slug="software-bug")
    assert (category.records, category.incidents, category.root_cause) == (2, 1, 1)
    assert LabelTally.objects.get(vendor=acme, change_type__slug="config-change").incidents == 1


def test_figures_are_the_same_counted_live_or_ahead_for_every_role(
    viewer, author, reviewer, admin_user
):
    acme = VendorFactory()
    for hours in (1, 2, 3):
        incident(acme, hours=hours)
    incident(acme, status=ReviewStatus.DRAFT, authors=[author], hours=5)
    incident(acme, status=ReviewStatus.IN_REVIEW, hours=7)
    users = (viewer, author, reviewer, admin_user)
    live = [figures(user, acme) for user in users]

    take_counts()

    assert [figures(user, acme) for user in users] == live
    assert [f["incidents"] for f in live] == [3, 4, 5, 5]


def test_what_is_published_after_the_counts_counts_at_once(viewer, author, clock):
    acme = VendorFactory()
    incident(acme)
    take_counts()
    clock.shift(timedelta(minutes=5))
    draft = incident(acme, status=ReviewStatus.DRAFT, authors=[author])
    assert figures(viewer, acme)["incidents"] == 1
    assert figures(author, acme)["incidents"] == 2

    draft.status = ReviewStatus.PUBLISHED
    draft.save()

    assert figures(viewer, acme)["incidents"] == 2
    assert figures(author, acme)["incidents"] == 2  # counted once, not as draft and published


def test_a_reviewers_figures_follow_every_change_to_a_draft(reviewer, author, clock):
    acme, other = VendorFactory(), VendorFactory()
    incident(acme)
    take_counts()
    draft = incident(acme, status=ReviewStatus.DRAFT, authors=[author])
    assert figures(reviewer, acme)["incidents"] == 2  # counted, and kept for the next page
    assert figures(reviewer, acme)["incidents"] == 2

    clock.shift(timedelta(minutes=1))
    IncidentVendor.objects.filter(incident=draft).update(vendor=other)
    draft.save()  # an edit of its parts saves the postmortem
    assert figures(reviewer, acme)["incidents"] == 1
    assert figures(reviewer, other)["incidents"] == 1

    draft.delete()
    assert figures(reviewer, other)["incidents"] == 0


def test_an_edit_to_a_published_postmortem_shows_at_the_next_count(viewer, clock):
    acme, other = VendorFactory(), VendorFactory()
    moved = incident(acme)
    take_counts()
    clock.shift(timedelta(minutes=5))
    IncidentVendor.objects.filter(incident=moved).update(vendor=other)

    assert figures(viewer, acme)["incidents"] == 1  # as counted
    take_counts()
    assert figures(viewer, acme)["incidents"] == 0
    assert figures(viewer, other)["incidents"] == 1


def test_the_refresh_also_takes_the_counts(monkeypatch, viewer):
    from patterns.tasks import refresh_patterns
    from postmortems import tasks

    # The task runs here instead of on another worker.
    monkeypatch.setattr(tasks.take_counts, "delay", tasks.take_counts)
    acme = VendorFactory()
    incident(acme)

    refresh_patterns()

    assert VendorTally.objects.get(vendor=acme).records == 1


# --- Pages ---------------------------------------------------------------------------


def test_home_page_counts_come_from_the_counts_plus_the_viewers_own(client, author, viewer):
    acme = VendorFactory(name="Acme")
    for _ in range(3):
        incident(acme)
    take_counts()
    incident(acme, status=ReviewStatus.DRAFT, authors=[author])

    client.force_login(author)
    page = client.get(reverse("postmortems:incident-list"))
    client.force_login(viewer)
    viewers = client.get(reverse("postmortems:incident-list"))

    assert page.context["facets"].total == 4
    assert [(v.label, v.count) for v in page.context["facets"].vendor] == [("Acme", 4)]
    assert {v.value: v.count for v in page.context["facets"].status} == {
        "published": 3,
        "draft": 1,
    }
    assert "4 postmortems" in page.content.decode()
    assert viewers.context["facets"].total == 3


def test_a_filtered_list_counts_up_to_a_cap_and_says_so(client, viewer, monkeypatch):
    monkeypatch.setattr(facets, "CAP", 3)
    acme, quiet = VendorFactory(name="Acme"), VendorFactory(name="Quiet")
    for day in range(5):
        incident(acme, started_at=START + timedelta(days=day), severity=Severity.MINOR)
    incident(quiet, started_at=START - timedelta(days=1), severity=Severity.CRITICAL)
    client.force_login(viewer)

    many = client.get(reverse("postmortems:incident-list"), {"vendor": acme.slug})
    few = client.get(reverse("postmortems:incident-list"), {"vendor": quiet.slug})

    assert many.context["facets"].capped
    assert "More than 3 postmortems" in many.content.decode()
    assert "Counted over the newest 3 matches." in many.content.decode()
    assert [(v.label, v.count) for v in many.context["facets"].severity] == [("Minor", 3)]
    assert not few.context["facets"].capped
    assert "1 postmortem" in few.content.decode()
    assert [(v.label, v.count) for v in few.context["facets"].severity] == [("Critical", 1)]


def test_best_match_ranks_the_newest_matches(client, viewer, monkeypatch):
    monkeypatch.setattr(search, "RANKED", 2)
    acme = VendorFactory()
    best = incident(acme, title="Leap second leap second", started_at=START - timedelta(days=9))
    newer = [
        incident(
            acme, title=f"Storage {n}", summary="leap second", started_at=START + timedelta(days=n)
        )
        for n in range(3)
    ]  # fmt: skip
    client.force_login(viewer)

    response = client.get(reverse("postmortems:incident-list"), {"q": "leap second"})

    shown = [incident.id for incident, _ in response.context["rows"]]
    assert shown == [newer[2].id, newer[1].id]
    assert best.id not in shown
    assert "best matches among the newest 2" in response.content.decode()
    newest_first = client.get(
        reverse("postmortems:incident-list"), {"q": "leap second", "sort": "newest"}
    )
    assert len(newest_first.context["rows"]) == 4  # every match, newest first


def test_vendor_list_shows_a_page_of_vendors_at_a_time(client, viewer, monkeypatch):
    monkeypatch.setattr(vendor_views, "VENDORS_PER_PAGE", 2)
    for name in ("Alpha", "Bravo", "Charlie"):
        VendorFactory(name=name)
    client.force_login(viewer)
    url = reverse("postmortems:vendor-list")

    first = client.get(url)
    second = client.get(url + next_link(first))

    assert [r.vendor.name for r in first.context["rows"]] == ["Alpha", "Bravo"]
    assert [r.vendor.name for r in second.context["rows"]] == ["Charlie"]
    assert "3 vendors, sorted by name (page 1 of 2)" in first.content.decode()
