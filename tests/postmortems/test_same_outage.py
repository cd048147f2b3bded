"""One outage recorded twice (a vendor's status-page incident and the postmortem about it,
or two feeds of one vendor): found, linked, counted once, and shown on both pages."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from digests.content import build_digest
from digests.schedule import period_ending
from patterns import services as pattern_services
from patterns.models import IncidentProfile, Pattern
from patterns.snapshot import latest_snapshot
from postmortems import analytics
from postmortems.choices import ReviewStatus
from postmortems.models import ChangeType, FailureCategory, Incident, IncidentVendor
from postmortems.same_outage import candidates, link_same_outage, unlink_same_outage
from postmortems.tallies import counting_for, take_counts
from tests import clock
from tests.factories import (
    DigestSubscriptionFactory,
    FactorFactory,
    ImportedIncidentFactory,
    IncidentFactory,
    VendorFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def pinned_clock():
    with clock.pin(NOW):
        yield


@pytest.fixture
def github():
    return VendorFactory(name="GitHub", slug="github")


def of(vendor, incident):
    IncidentVendor.objects.create(incident=incident, vendor=vendor, is_primary=True)
    return incident


def imported(vendor, title="Webhooks delayed", start=T0, minutes=60, **fields):
    return of(
        vendor,
        ImportedIncidentFactory(
            title=title, started_at=start, resolved_at=start + timedelta(minutes=minutes), **fields
        ),
    )


def written(vendor, title="Delayed webhooks after a queue change", start=T0, minutes=70, **fields):
    fields.setdefault("analysis", "A queue consumer was scaled down during a deploy.")
    return of(
        vendor,
        IncidentFactory(
            title=title,
            started_at=start - timedelta(minutes=10),
            resolved_at=start + timedelta(minutes=minutes),
            **fields,
        ),
    )


def reloaded(*incidents):
    return [Incident.objects.get(pk=i.pk) for i in incidents]


# --- Candidates ------------------------------------------------------------------------------


def test_the_import_and_the_postmortem_of_one_outage_are_suggested_to_each_other(
    github, admin_user
):
    feed, postmortem = imported(github), written(github)

    [found] = candidates(postmortem, user=admin_user)
    [back] = candidates(feed, user=admin_user)

    assert found.incident == feed and back.incident == postmortem
    assert found.reasons == [
        "same vendor: GitHub",
        "times overlap by 1 h",
        "titles share 'delayed', 'webhooks'",
    ]
    assert 0.5 < found.score <= 1


def test_another_vendors_outage_or_one_days_away_is_not_suggested(github, admin_user):
    postmortem = written(github)
    imported(VendorFactory(name="GitLab"))  # the same words, the same hour, another vendor
    imported(github, start=T0 + timedelta(days=3))
    imported(github, start=T0 - timedelta(days=2))

    assert candidates(postmortem, user=admin_user) == []


def test_an_outage_with_no_known_end_is_given_six_hours(github, admin_user):
    postmortem = written(github)
    ongoing = of(
        github,
        ImportedIncidentFactory(title="Webhooks delayed", started_at=T0 - timedelta(hours=5)),
    )
    of(
        github,
        ImportedIncidentFactory(title="Webhooks delayed", started_at=T0 - timedelta(hours=7)),
    )

    assert [c.incident for c in candidates(postmortem, user=admin_user)] == [ongoing]


def test_the_better_match_comes_first_and_at_most_three_are_suggested(github, admin_user):
    postmortem = written(github)
    others = [imported(github, title=f"Pages slow {n}") for n in range(3)]
    same = imported(github, title="Webhook deliveries delayed")

    found = candidates(postmortem, user=admin_user)

    assert len(found) == 3
    assert found[0].incident == same
    assert {c.incident for c in found[1:]} <= set(others)


def test_records_already_linked_are_not_suggested_again(github, admin_user):
    postmortem, feed = written(github), imported(github)
    other_feed = imported(github, import_source="rss")
    link_same_outage(incident=feed, other=postmortem, user=admin_user)

    assert [c.incident for c in candidates(postmortem, user=admin_user)] == [other_feed]
    assert [c.incident for c in candidates(reloaded(feed)[0], user=admin_user)] == [other_feed]


def test_a_draft_the_reader_may_not_see_is_never_suggested(github, reviewer, viewer):
    postmortem = written(github)
    imported(github, status=ReviewStatus.DRAFT)  # imports arrive as drafts

    assert candidates(postmortem, user=viewer) == []
    assert len(candidates(postmortem, user=reviewer)) == 1


# --- Linking -------------------------------------------------------------------------------


def test_the_hand_written_postmortem_stands_for_the_outage_whichever_way_it_is_linked(
    github, admin_user
):
    feed, postmortem = imported(github), written(github)

    canonical = link_same_outage(incident=postmortem, other=feed, user=admin_user)

    feed, postmortem = reloaded(feed, postmortem)
    assert canonical == postmortem
    assert feed.same_outage_as == postmortem and postmortem.same_outage_as is None
    assert (feed.same_outage_linked_by, feed.same_outage_linked_at) == (admin_user, NOW)


def test_linking_moves_the_changed_record_to_a_new_version_with_a_history_entry(github, admin_user):
    feed, postmortem = imported(github), written(github)
    versions = (feed.version, postmortem.version)

    link_same_outage(incident=feed, other=postmortem, user=admin_user)

    feed, postmortem = reloaded(feed, postmortem)
    assert (feed.version, postmortem.version) == (versions[0] + 1, versions[1])
    entry = feed.history.order_by("-history_id").first()
    assert entry.history_user == admin_user
    assert entry.history_change_reason == f"Same outage as {postmortem.slug}"
    assert entry.same_outage_as_id == postmortem.pk


def test_between_two_imports_the_published_one_then_the_longer_one_stands(github, admin_user):
    draft = imported(github, status=ReviewStatus.DRAFT, summary="A long account " * 20)
    published = imported(github, import_source="rss")
    longer = imported(github, import_source="atom", summary="Webhooks were delayed " * 5)

    assert link_same_outage(incident=draft, other=published, user=admin_user) == published
    assert link_same_outage(incident=published, other=longer, user=admin_user) == longer
    assert {r.same_outage_as_id for r in reloaded(draft, published)} == {longer.pk}


def test_linking_to_another_record_links_to_the_record_it_stands_for(github, admin_user):
    postmortem, statuspage, rss = (
        written(github),
        imported(github),
        imported(github, import_source="rss"),
    )
    link_same_outage(incident=statuspage, other=postmortem, user=admin_user)

    canonical = link_same_outage(incident=rss, other=statuspage, user=admin_user)

    rss, statuspage, postmortem = reloaded(rss, statuspage, postmortem)
    assert canonical == postmortem
    assert rss.same_outage_as == postmortem and statuspage.same_outage_as == postmortem


def test_linking_two_outages_moves_every_record_of_the_one_that_gives_way(github, admin_user):
    feed, feed_copy = imported(github), imported(github, import_source="rss")
    link_same_outage(incident=feed, other=feed_copy, user=admin_user)
    postmortem = written(github)

    link_same_outage(incident=postmortem, other=feed_copy, user=admin_user)

    feed, feed_copy, postmortem = reloaded(feed, feed_copy, postmortem)
    assert feed.same_outage_as == postmortem and feed_copy.same_outage_as == postmortem
    assert postmortem.same_outage_as is None


def test_linking_records_already_of_one_outage_changes_nothing(github, admin_user):
    feed, postmortem = imported(github), written(github)
    link_same_outage(incident=feed, other=postmortem, user=admin_user)
    version = reloaded(feed)[0].version

    assert link_same_outage(incident=postmortem, other=feed, user=admin_user) == postmortem
    assert reloaded(feed)[0].version == version


def test_a_postmortem_cannot_be_another_record_of_itself(github, admin_user):
    postmortem = written(github)

    with pytest.raises(ValidationError, match="another record of itself"):
        link_same_outage(incident=postmortem, other=postmortem, user=admin_user)
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.filter(pk=postmortem.pk).update(same_outage_as=postmortem)


def test_linking_needs_edit_rights_on_both_records(github, author):
    own = written(github, status=ReviewStatus.DRAFT)
    own.authors.add(author)
    someone_elses = written(github, title="Webhooks delayed", status=ReviewStatus.DRAFT)

    with pytest.raises(PermissionDenied):
        link_same_outage(incident=own, other=someone_elses, user=author)
    assert reloaded(own, someone_elses)[0].same_outage_as is None
    assert reloaded(someone_elses)[0].same_outage_as is None


def test_unlinking_another_record_makes_it_its_own_outage_again(github, admin_user):
    feed, postmortem = imported(github), written(github)
    link_same_outage(incident=feed, other=postmortem, user=admin_user)

    unlink_same_outage(incident=reloaded(feed)[0], user=admin_user)

    feed = reloaded(feed)[0]
    assert feed.same_outage_as is None and feed.same_outage_linked_by is None
    entry = feed.history.order_by("-history_id").first()
    assert entry.history_change_reason.startswith("No longer")


def test_unlinking_the_canonical_record_leaves_the_outage_to_the_best_of_the_others(
    github, admin_user
):
    postmortem = written(github)
    short, longer = imported(github), imported(github, import_source="rss", summary="x" * 300)
    link_same_outage(incident=short, other=postmortem, user=admin_user)
    link_same_outage(incident=longer, other=postmortem, user=admin_user)

    unlink_same_outage(incident=reloaded(postmortem)[0], user=admin_user)

    short, longer = reloaded(short, longer)
    assert longer.same_outage_as is None and short.same_outage_as == longer
    assert not Incident.objects.filter(same_outage_as=postmortem).exists()


def test_unlinking_a_record_linked_to_nothing_is_refused(github, admin_user):
    with pytest.raises(ValidationError, match="not linked"):
        unlink_same_outage(incident=written(github), user=admin_user)


# --- Counted once ------------------------------------------------------------------------------


def unstaged_config_change(incident):
    incident.change_types.add(ChangeType.objects.get(slug="config-change"))
    FactorFactory(
        incident=incident, category=FailureCategory.objects.get(slug="non-staged-rollout")
    )
    return incident


PATTERN_KEY = "cat:non-staged-rollout+ct:config-change"


def test_a_pattern_counts_an_outage_recorded_twice_once(github, admin_user):
    earlier = [
        unstaged_config_change(written(github, start=T0 - timedelta(days=d))) for d in (90, 30)
    ]
    feed = unstaged_config_change(imported(github))
    postmortem = unstaged_config_change(written(github))
    pattern_services.refresh_patterns(now=NOW)
    assert Pattern.objects.get(key=PATTERN_KEY).support == 4

    link_same_outage(incident=feed, other=postmortem, user=admin_user)
    pattern_services.refresh_patterns(now=NOW)

    pattern = Pattern.objects.get(key=PATTERN_KEY)
    assert pattern.support == 3
    assert set(pattern.latest_members) == {earlier[0].pk, earlier[1].pk, postmortem.pk}
    assert not IncidentProfile.objects.filter(incident=feed).exists()


def test_linking_drops_a_recurring_pattern_to_an_emerging_one(github, admin_user):
    unstaged_config_change(written(github, start=T0 - timedelta(days=60)))
    feed = unstaged_config_change(imported(github))
    postmortem = unstaged_config_change(written(github))
    link_same_outage(incident=feed, other=postmortem, user=admin_user)

    pattern_services.refresh_patterns(now=NOW)

    assert Pattern.objects.get(key=PATTERN_KEY).support == 2


def test_vendor_downtime_and_statistics_count_the_outage_once(github, admin_user, viewer):
    feed = imported(github, minutes=60)
    postmortem = written(github, minutes=70)  # 80 minutes, from ten minutes earlier
    of(github, IncidentFactory(title="Unrelated, no end", started_at=T0 - timedelta(days=40)))
    unknown_feed = of(github, ImportedIncidentFactory(started_at=T0 - timedelta(days=40)))
    link_same_outage(incident=feed, other=postmortem, user=admin_user)

    for counted_ahead in (False, True):
        if counted_ahead:  # the same figures from the published counts
            take_counts()
        [year] = analytics.vendor_downtime_by_year(github, counting_for(viewer))
        rows = analytics.vendor_incident_counts(counting_for(viewer))
        [row] = [r for r in rows if r.vendor.id == github.id]
        assert (year.incident_count, year.downtime) == (1, timedelta(minutes=80))
        assert row.incident_count == 3
        assert analytics.vendor_unknown_duration_count(github, counting_for(viewer)) == 2
    link_same_outage(
        incident=unknown_feed,
        other=Incident.objects.get(title="Unrelated, no end"),
        user=admin_user,
    )
    take_counts()
    assert analytics.vendor_unknown_duration_count(github, counting_for(viewer)) == 1

    pattern_services.refresh_patterns(now=NOW)
    stats = latest_snapshot()
    assert stats["published"] == 2
    [downtime] = [d for d in stats["downtime"] if d["vendor"] == "GitHub"]
    assert (downtime["n"], downtime["downtime"]) == (1, 80 * 60)


def test_a_published_import_still_counts_while_its_postmortem_is_a_draft(
    github, admin_user, viewer
):
    feed = imported(github)
    draft = written(github, status=ReviewStatus.DRAFT)
    link_same_outage(incident=feed, other=draft, user=admin_user)

    [year] = analytics.vendor_downtime_by_year(github, counting_for(viewer))
    take_counts()
    [counted_ahead] = analytics.vendor_downtime_by_year(github, counting_for(viewer))
    pattern_services.refresh_patterns(now=NOW)

    assert reloaded(feed)[0].same_outage_as == draft
    assert year.incident_count == counted_ahead.incident_count == 1
    assert latest_snapshot()["published"] == 1


def test_two_published_imports_of_a_draft_postmortem_count_once(github, admin_user):
    draft = written(github, status=ReviewStatus.DRAFT)
    for source in ("statuspage", "rss"):
        link_same_outage(
            incident=imported(github, import_source=source), other=draft, user=admin_user
        )

    pattern_services.refresh_patterns(now=NOW)

    assert latest_snapshot()["published"] == 1


def test_the_digest_lists_and_counts_the_outage_once(github, admin_user):
    period = period_ending(datetime(2026, 3, 9, 9, tzinfo=UTC), "UTC")
    during = period.start + timedelta(hours=2)
    feed = imported(github, title="Webhooks delayed", published_at=during)
    postmortem = written(github, title="Delayed webhooks after a queue change", published_at=during)
    link_same_outage(incident=feed, other=postmortem, user=admin_user)

    digest = build_digest(DigestSubscriptionFactory(), period)

    assert [entry.title for entry in digest.postmortems] == [postmortem.title]
    assert digest.postmortem_count == 1
    numbers = {n.label: n.this_week for n in digest.numbers}
    assert numbers["Postmortems published"] == 1
    assert numbers["Incidents started"] == 1


# --- Pages ------------------------------------------------------------------------------------


def page(client, incident):
    response = client.get(reverse("postmortems:incident-detail", args=[incident.slug]))
    assert response.status_code == 200
    return response.content.decode()


def url_of(incident):
    return reverse("postmortems:incident-detail", args=[incident.slug])


def test_each_page_shows_the_other_record(client, github, admin_user, viewer):
    feed, postmortem = imported(github), written(github)
    link_same_outage(incident=feed, other=postmortem, user=admin_user)
    client.force_login(viewer)

    on_feed, on_postmortem = page(client, feed), page(client, postmortem)

    assert "Same outage as" in on_feed and f'href="{url_of(postmortem)}"' in on_feed
    assert "Also recorded as" in on_postmortem and f'href="{url_of(feed)}"' in on_postmortem
    assert "unlink" not in on_feed.lower() and "Same outage</button>" not in on_postmortem


def test_a_viewer_never_sees_a_draft_through_the_other_records(client, github, admin_user, viewer):
    postmortem = written(github)
    draft = imported(github, title="Webhooks queue drained slowly", status=ReviewStatus.DRAFT)
    link_same_outage(incident=draft, other=postmortem, user=admin_user)

    client.force_login(viewer)
    as_viewer = page(client, postmortem)
    client.force_login(admin_user)
    as_admin = page(client, postmortem)

    assert draft.title not in as_viewer and url_of(draft) not in as_viewer
    assert "Also recorded as" not in as_viewer
    assert draft.title in as_admin


def test_an_editor_links_a_suggestion_from_the_page_and_can_unlink_it(client, github, admin_user):
    feed, postmortem = imported(github), written(github)
    client.force_login(admin_user)

    suggested = page(client, postmortem)
    response = client.post(
        reverse("postmortems:same-outage-link", args=[postmortem.slug]), {"incident": feed.slug}
    )

    assert "Possibly the same outage" in suggested and "Same outage</button>" in suggested
    assert response.status_code == 302 and response.url == url_of(postmortem)
    assert reloaded(feed)[0].same_outage_as == postmortem
    response = client.post(
        reverse("postmortems:same-outage-unlink", args=[postmortem.slug]), {"record": feed.slug}
    )
    assert response.status_code == 302
    assert reloaded(feed)[0].same_outage_as is None


def test_a_pasted_page_address_names_the_other_record(client, github, admin_user):
    feed, postmortem = imported(github), written(github)
    client.force_login(admin_user)

    client.post(
        reverse("postmortems:same-outage-link", args=[feed.slug]),
        {"incident": f"http://testserver{url_of(postmortem)}"},
    )

    assert reloaded(feed)[0].same_outage_as == postmortem


def test_a_reader_who_may_not_edit_cannot_link(client, github, viewer):
    feed, postmortem = imported(github), written(github)
    client.force_login(viewer)

    response = client.post(
        reverse("postmortems:same-outage-link", args=[postmortem.slug]), {"incident": feed.slug}
    )

    assert response.status_code == 403
    assert reloaded(feed)[0].same_outage_as is None


def test_a_link_to_a_record_the_editor_may_not_edit_is_refused_with_a_message(
    client, github, reviewer
):
    postmortem = written(github)
    draft = imported(github, status=ReviewStatus.DRAFT)  # reviewers edit no drafts
    client.force_login(reviewer)

    response = client.post(
        reverse("postmortems:same-outage-link", args=[postmortem.slug]),
        {"incident": draft.slug},
        follow=True,
    )

    assert "You may not edit" in response.content.decode()
    assert reloaded(draft)[0].same_outage_as is None


def test_the_incident_page_costs_the_same_queries_for_one_or_four_other_records(
    client, github, admin_user, django_assert_max_num_queries
):
    def linked_outage(records: int) -> Incident:
        postmortem = written(github, start=T0 + timedelta(days=10 * records))
        for n in range(records):
            feed = imported(
                github, import_source=f"feed-{n}", start=T0 + timedelta(days=10 * records)
            )
            link_same_outage(incident=feed, other=postmortem, user=admin_user)
        imported(github, title="Webhooks delayed again", start=T0 + timedelta(days=10 * records))
        return postmortem

    small, large = linked_outage(1), linked_outage(4)
    client.force_login(admin_user)
    page(client, small), page(client, large)  # the bodies' first renders are cached

    with django_assert_max_num_queries(40) as captured:
        page(client, small)
    with django_assert_max_num_queries(len(captured)):
        page(client, large)
