import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from postmortems.choices import ReviewStatus
from postmortems.demo.loader import load_demo
from postmortems.models import ChangeType, FailureCategory, IncidentVendor
from tests.factories import FactorFactory, IncidentFactory, VendorFactory

pytestmark = pytest.mark.django_db
LIST = reverse("postmortems:incident-list")


@pytest.fixture
def demo():
    load_demo()


def html(response) -> str:
    return response.content.decode()


def titles(response) -> list[str]:
    return [incident.title for incident, _ in response.context["rows"]]


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(LIST)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_search_ranks_and_highlights_matches(client, viewer, demo):
    client.force_login(viewer)

    response = client.get(LIST, {"q": "leap year certificate"})

    assert titles(response)[0].startswith("Leap-day certificate bug")
    snippet = str(response.context["rows"][0][1])
    assert "<mark>" in snippet
    assert response.context["sort"] == "relevance"


def test_search_snippets_escape_stored_html(client, viewer):
    IncidentFactory(title="Hostile", summary="<script>alert(1)</script> certificate expired")
    client.force_login(viewer)

    response = client.get(LIST, {"q": "certificate"})

    body = response.content.decode()
    assert "<script>alert(1)" not in body
    assert "<mark>certificate</mark>" in body


def test_filters_combine_and_live_in_the_query_string(client, viewer, demo):
    client.force_login(viewer)

    params = {"vendor": "microsoft-azure", "change_type": "time-event", "category": "time-handling"}
    response = client.get(LIST, params)

    assert len(titles(response)) == 1
    assert titles(response)[0].startswith("Leap-day")


def test_category_filter_finds_incidents_through_their_factors(client, viewer, demo):
    client.force_login(viewer)

    response = client.get(LIST, {"category": "non-staged-rollout"})

    slugs = {incident.slug for incident, _ in response.context["rows"]}
    assert {"azure-leap-day-2012-02", "azure-storage-2014-11"} <= slugs


def test_date_range_filter(client, viewer, demo):
    client.force_login(viewer)

    response = client.get(LIST, {"started_after": "2012-01-01", "started_before": "2012-05-31"})

    assert [t[:8] for t in titles(response)] == ["Leap-day"]


def test_facets_count_the_current_results(client, viewer, demo):
    client.force_login(viewer)

    response = client.get(LIST, {"vendor": "microsoft-azure"})

    facets = response.context["facets"]
    # Eight Azure outages; three of them (the 2020 and 2021 sign-in failures, the 2023 WAN
    # outage) involve Microsoft 365 as well.
    assert facets.total == 8
    assert {(v.value, v.count) for v in facets.vendor} == {
        ("microsoft-azure", 8),
        ("microsoft-365", 3),
    }
    assert sum(v.count for v in facets.severity) == 8


def test_an_unknown_filter_value_is_a_clear_400(client, viewer):
    client.force_login(viewer)

    response = client.get(LIST, {"severity": "apocalyptic"})

    assert response.status_code == 400
    assert "apocalyptic" in response.content.decode()


def test_drafts_appear_only_for_people_allowed_to_see_them(client, viewer, author, reviewer):
    draft = IncidentFactory(title="Secret draft", status=ReviewStatus.DRAFT)
    draft.authors.add(author)

    for user, sees in [(viewer, False), (author, True), (reviewer, True)]:
        client.force_login(user)
        response = client.get(LIST, {"q": "secret"})
        assert ("Secret draft" in titles(response)) is sees
        assert response.context["facets"].total == (1 if sees else 0)


def test_pages_walk_the_whole_list_without_repeats(client, viewer):
    for n in range(30):
        IncidentFactory(
            title=f"Outage {n:02}", started_at=datetime(2020, 1, 1 + n % 28, tzinfo=UTC)
        )
    client.force_login(viewer)

    first = client.get(LIST)
    second = client.get(LIST, {"cursor": first.context["page"].next_cursor})

    seen = titles(first) + titles(second)
    assert len(titles(first)) == 25
    assert len(seen) == len(set(seen)) == 30
    assert second.context["page"].next_cursor is None


def test_a_damaged_page_link_shows_the_first_page_with_a_message(client, viewer):
    IncidentFactory()
    client.force_login(viewer)

    response = client.get(LIST, {"cursor": "garbage"})

    assert response.status_code == 200
    assert "damaged" in response.content.decode()
    assert len(titles(response)) == 1


def make_incidents(n: int) -> None:
    vendor = VendorFactory(slug="acme")
    config = ChangeType.objects.get(slug="config-change")
    for _ in range(n):
        incident = IncidentFactory()
        IncidentVendor.objects.create(incident=incident, vendor=vendor, is_primary=True)
        incident.change_types.add(config)
        FactorFactory(incident=incident, category=FailureCategory.objects.get(slug="config-error"))


def count_queries(client, params=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST, params or {}).status_code == 200
    return len(queries)


@pytest.mark.parametrize("params", [{}, {"q": "incident"}, {"vendor": "acme"}])
def test_the_list_issues_as_many_queries_for_200_incidents_as_for_2(client, viewer, params):
    # Session and user, the page of incidents, its vendors and change types,
    # the six facet counts, and (searching) the snippets: none grow with the rows.
    client.force_login(viewer)
    make_incidents(2)
    few = count_queries(client, params)

    make_incidents(198)

    assert count_queries(client, params) == few


def test_highlighting_keeps_no_stored_markup_but_its_own_marks():
    from postmortems.search import START, STOP, highlight

    # Stored HTML is not text a reader sees: its tags are dropped, entities stay escaped.
    assert str(highlight(f"<img onerror=x> a &lt;b&gt; {START}match{STOP}")) == (
        "a &lt;b&gt; <mark>match</mark>"
    )


def test_the_filter_form_offers_every_vendor_and_keeps_the_chosen_ones(client, viewer):
    VendorFactory(name="Zeta & Sons", slug="zeta")
    VendorFactory(name="Acme Cloud", slug="acme")
    VendorFactory(name="Mid Networks", slug="mid")
    client.force_login(viewer)

    response = client.get(reverse("postmortems:incident-list"), {"vendor": ["zeta", "acme"]})

    (select,) = re.findall(
        r'<select multiple[^>]* id="id_vendor"[^>]*>.*?</select>', html(response)
    )
    assert 'name="vendor"' in select
    # By name, escaped, and exactly the chosen ones selected.
    assert select.index("Acme Cloud") < select.index("Mid Networks") < select.index("Zeta")
    assert '<option value="zeta" selected>Zeta &amp; Sons</option>' in select
    assert '<option value="acme" selected>Acme Cloud</option>' in select
    assert '<option value="mid">Mid Networks</option>' in select


def test_search_snippets_read_as_the_rendered_text_not_its_markdown(client, viewer):
    IncidentFactory(
        title="Marked up",
        summary="## What happened\n\nThe **certificate** for [the API](https://api.example.com/) "
        "expired; `renew.sh` had not run.",
    )
    client.force_login(viewer)

    body = client.get(LIST, {"q": "certificate"}).content.decode()

    assert "What happened The <mark>certificate</mark> for the API expired;" in body
    assert "**" not in body and "##" not in body and "](https" not in body
