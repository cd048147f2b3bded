"""The in-place editors for factors, action items and sources on the incident edit page."""

import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from accounts.models import Profile
from postmortems import services_parts
from postmortems.choices import (
    ActionItemStatus,
    ActionItemType,
    FactorRole,
    ReviewStatus,
    SourceKind,
)
from postmortems.models import ActionItem, Factor, FailureCategory, Source
from tests.factories import (
    ActionItemFactory,
    FactorFactory,
    IncidentFactory,
    TimelineEventFactory,
    UserFactory,
)
from timeline.choices import EventKind

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
TODAY = datetime(2024, 6, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def incident(author):
    """A draft by ``author``: only its authors, reviewers and admins see it."""
    incident = IncidentFactory(status=ReviewStatus.DRAFT)
    incident.authors.add(author)
    return incident


@pytest.fixture
def other_incident(author):
    other = IncidentFactory(status=ReviewStatus.DRAFT)
    other.authors.add(author)
    return other


@pytest.fixture
def author_client(client, author):
    client.force_login(author)
    return client


def category(slug: str) -> FailureCategory:
    return FailureCategory.objects.get(slug=slug)


def url(name: str, incident, pk: int | None = None) -> str:
    args = [incident.slug] if pk is None else [incident.slug, pk]
    return reverse(f"postmortems:{name}", args=args)


def edit_page(incident, section: str) -> str:
    return f"{reverse('postmortems:incident-edit', args=[incident.slug])}#{section}-section"


def factor_data(prefix: str = "factor-new", **values) -> dict:
    fields = {
        "role": FactorRole.ROOT_CAUSE,
        "category": category("config-error").pk,
        "description": "A **bad** value reached every region.",
        "position": 0,
        **values,
    }
    return {f"{prefix}-{name}": value for name, value in fields.items()}


def action_item_data(prefix: str = "action-item-new", **values) -> dict:
    fields = {
        "title": "Stage configuration rollouts",
        "type": ActionItemType.PREVENTIVE,
        "owner": "",
        "due_date": "2024-07-01",
        "status": ActionItemStatus.OPEN,
        "ticket_url": "",
        **values,
    }
    return {f"{prefix}-{name}": value for name, value in fields.items()}


def source_data(**values) -> dict:
    fields = {
        "url": "https://status.example.com/incidents/42",
        "title": "Status page history",
        "kind": SourceKind.STATUS_PAGE,
        **values,
    }
    return {f"source-new-{name}": value for name, value in fields.items()}


# --- Factors -------------------------------------------------------------------------


def test_adding_a_factor_with_htmx_shows_it_rendered_in_the_fragment(author_client, incident):
    response = author_client.post(url("factor-create", incident), factor_data(), **HTMX)

    assert response.status_code == 200
    factor = incident.factors.get()
    assert factor.category.slug == "config-error"
    html = response.content.decode()
    assert "Factor added." in html
    assert f'id="factor-{factor.pk}"' in html
    assert "A <strong>bad</strong> value reached every region." in html
    assert "<html" not in html  # a fragment to swap, not a page


def test_adding_a_factor_without_htmx_redirects_to_the_edit_page(author_client, incident):
    response = author_client.post(url("factor-create", incident), factor_data())

    assert response.status_code == 302
    assert response.url == edit_page(incident, "factors")
    assert incident.factors.count() == 1


def test_a_factor_description_is_sanitised(author_client, incident):
    data = factor_data(description="Fine <script>alert(1)</script><img src=x onerror=alert(2)>")

    response = author_client.post(url("factor-create", incident), data, **HTMX)

    html = response.content.decode()
    assert "alert(1)" not in html
    assert "onerror" not in html


def test_factors_are_listed_under_their_role(author_client, incident):
    FactorFactory(incident=incident, role=FactorRole.MITIGATING, category=category("complexity"))
    FactorFactory(incident=incident, role=FactorRole.ROOT_CAUSE, category=category("security"))

    html = author_client.get(url("factor-create", incident), **HTMX).content.decode()

    root, contributing, mitigating = (
        html.index("Root causes"),
        html.index("Contributing factors"),
        html.index("Mitigating factors"),
    )
    assert root < html.index("Security") < contributing < mitigating < html.index("Complexity")


def test_a_factor_needs_a_role_and_a_category(author_client, incident):
    data = factor_data(role="", category="")

    response = author_client.post(url("factor-create", incident), data, **HTMX)

    # 200, not 4xx: htmx would not swap an error response and the errors would stay hidden.
    assert response.status_code == 200
    html = response.content.decode()
    assert "Say whether this is a root cause, contributing or mitigating." in html
    assert "Choose a category from the taxonomy." in html
    assert not incident.factors.exists()


def test_an_invalid_factor_without_htmx_is_a_400_page_with_the_errors(author_client, incident):
    response = author_client.post(url("factor-create", incident), factor_data(category=""))

    assert response.status_code == 400
    assert "Choose a category from the taxonomy." in response.content.decode()
    assert "<html" in response.content.decode()


def test_a_category_outside_the_taxonomy_is_a_form_error(author_client, incident):
    missing = FailureCategory.objects.order_by("-pk").first().pk + 1000

    response = author_client.post(
        url("factor-create", incident), factor_data(category=missing), **HTMX
    )

    assert "That category is not in the taxonomy; choose one from the list." in (
        response.content.decode()
    )
    assert not incident.factors.exists()


def test_the_category_picker_shows_each_definition(author_client, incident):
    html = author_client.get(url("factor-create", incident), **HTMX).content.decode()

    bug = category("software-bug")
    # Options carry their definition for the hint beside the picker…
    assert f'data-definition="{escape(bug.definition)}"' in html
    assert 'data-typical-role="Usually a root cause"' in html
    # …grouped by parent…
    assert '<optgroup label="Software bug">' in html
    assert category("time-handling").name in html
    # …and the glossary lists every definition without JavaScript.
    assert "<summary>All categories</summary>" in html
    for each in FailureCategory.objects.all():
        assert escape(each.definition) in html


def test_the_picker_hint_shows_the_chosen_category_after_an_error(author_client, incident):
    data = factor_data(role="", category=category("retry-storm").pk)

    html = author_client.post(url("factor-create", incident), data, **HTMX).content.decode()

    hint = html[html.index('id="id_factor-new-category-definition"') :]
    assert hint.index(category("retry-storm").definition) < hint.index("</p>")


def test_edit_opens_the_factor_as_an_inline_form(author_client, incident):
    factor = FactorFactory(incident=incident, description="Old text.")

    response = author_client.get(url("factor-edit", incident, factor.pk), **HTMX)

    html = response.content.decode()
    assert html.lstrip().startswith(f'<li class="parts-row" id="factor-{factor.pk}">')
    assert f'name="factor-{factor.pk}-description"' in html
    assert "Old text." in html
    assert "Save factor" in html


def test_edit_without_htmx_shows_the_editor_with_the_row_open(author_client, incident):
    factor = FactorFactory(incident=incident)

    response = author_client.get(url("factor-edit", incident, factor.pk))

    assert response.status_code == 200
    assert f'name="factor-{factor.pk}-description"' in response.content.decode()


def test_editing_a_factor_saves_it_and_keeps_the_old_text_in_history(
    author_client, author, incident
):
    factor = FactorFactory(incident=incident, description="Old text.")
    data = factor_data(
        prefix=f"factor-{factor.pk}", role=FactorRole.CONTRIBUTING, description="New text."
    )

    response = author_client.post(url("factor-edit", incident, factor.pk), data, **HTMX)

    assert response.status_code == 200
    assert "Factor saved." in response.content.decode()
    factor.refresh_from_db()
    assert (factor.role, factor.description) == (FactorRole.CONTRIBUTING, "New text.")
    latest, previous = factor.history.order_by("-history_date")[:2]
    assert latest.history_user == author
    assert previous.description == "Old text."


def test_editing_a_factor_without_htmx_redirects_to_the_edit_page(author_client, incident):
    factor = FactorFactory(incident=incident)
    data = factor_data(prefix=f"factor-{factor.pk}", description="New text.")

    response = author_client.post(url("factor-edit", incident, factor.pk), data)

    assert response.url == edit_page(incident, "factors")
    factor.refresh_from_db()
    assert factor.description == "New text."


def test_an_invalid_edit_keeps_the_row_open_with_its_errors(author_client, incident):
    factor = FactorFactory(incident=incident, description="Old text.")
    data = factor_data(prefix=f"factor-{factor.pk}", category="", description="Draft.")

    response = author_client.post(url("factor-edit", incident, factor.pk), data, **HTMX)

    html = response.content.decode()
    assert "Choose a category from the taxonomy." in html
    assert f'name="factor-{factor.pk}-description"' in html
    factor.refresh_from_db()
    assert factor.description == "Old text."


def test_deleting_a_factor_with_htmx_removes_it_from_the_fragment(author_client, incident):
    factor = FactorFactory(incident=incident)

    response = author_client.post(url("factor-delete", incident, factor.pk), **HTMX)

    assert not Factor.objects.filter(pk=factor.pk).exists()
    assert f'id="factor-{factor.pk}"' not in response.content.decode()
    assert "Factor deleted." in response.content.decode()


def test_deleting_a_factor_without_htmx_redirects(author_client, incident):
    factor = FactorFactory(incident=incident)

    response = author_client.post(url("factor-delete", incident, factor.pk))

    assert response.url == edit_page(incident, "factors")
    assert not Factor.objects.filter(pk=factor.pk).exists()


def test_delete_buttons_ask_for_confirmation(author_client, incident):
    FactorFactory(incident=incident)
    ActionItemFactory(incident=incident)
    Source.objects.create(incident=incident, url="https://a.example", kind=SourceKind.NEWS)

    for name in ("factor-create", "action-item-create", "source-create"):
        html = author_client.get(url(name, incident), **HTMX).content.decode()
        assert 'hx-confirm="' in html


def test_deleting_needs_a_post(author_client, incident):
    factor = FactorFactory(incident=incident)

    response = author_client.get(url("factor-delete", incident, factor.pk))

    assert response.status_code == 405
    assert Factor.objects.filter(pk=factor.pk).exists()


# --- Evidence: the timeline events behind a factor ----------------------------------------

EARLY = datetime(2024, 3, 1, 12, 5, tzinfo=UTC)
LATE = datetime(2024, 3, 1, 12, 40, tzinfo=UTC)


@pytest.fixture
def events(incident):
    """Two events of the incident's timeline, and one of another incident's."""
    early = TimelineEventFactory(
        incident=incident, occurred_at=EARLY, kind=EventKind.DETECTION,
        description="<p>Alerts fired for <b>every</b> storage front-end in the region at once</p>",
    )  # fmt: skip
    late = TimelineEventFactory(incident=incident, occurred_at=LATE, description="Rolled back.")
    TimelineEventFactory(description="Another postmortem's event.")
    return early, late


def evidence_box(html: str, event) -> str:
    """The evidence checkbox of ``event`` in ``html``: its whole tag."""
    (tag,) = re.findall(
        rf'<input type="checkbox" name="[\w-]+-evidence" value="{event.pk}"[^>]*>', html
    )
    return tag


def test_the_factor_form_offers_this_timelines_events_by_time_and_first_words(
    author_client, incident, events
):
    early, _ = events

    html = author_client.get(url("factor-create", incident), **HTMX).content.decode()

    assert 'name="factor-new-evidence"' in html
    assert "1 Mar 2024 12:05 · Detection — Alerts fired for every storage front-end in the…" in html
    assert "1 Mar 2024 12:40 · Note — Rolled back." in html
    assert "Another postmortem" not in html
    assert "checked" not in evidence_box(html, early)


def test_the_event_times_are_in_the_viewers_zone(author_client, author, incident, events):
    Profile.objects.update_or_create(user=author, defaults={"time_zone": "Asia/Tokyo"})
    author_client.force_login(author)  # the zone is read at sign-in

    html = author_client.get(url("factor-create", incident), **HTMX).content.decode()

    assert "1 Mar 2024 21:05 · Detection" in html


def test_a_timeline_without_events_says_how_to_cite_some(author_client, incident):
    html = author_client.get(url("factor-create", incident), **HTMX).content.decode()

    assert "This timeline has no events yet." in html


def test_adding_a_factor_with_evidence_links_its_events(author_client, author, incident, events):
    early, late = events
    data = {**factor_data(), "factor-new-evidence": [early.pk, late.pk]}

    response = author_client.post(url("factor-create", incident), data, **HTMX)

    assert response.status_code == 200
    factor = incident.factors.get()
    assert list(factor.evidence.all()) == [early, late]
    record = factor.history.get()
    assert record.history_user == author
    assert record.history_change_reason == f"Evidence: timeline events {early.pk}, {late.pk}."
    # The row cites them, linked to their place in the timeline editor.
    html = response.content.decode()
    edit_url = reverse("postmortems:incident-edit", args=[incident.slug])
    assert f'href="{edit_url}#timeline-event-{late.pk}"' in html


def test_editing_a_factor_shows_its_evidence_checked(author_client, incident, events):
    early, late = events
    factor = FactorFactory(incident=incident)
    late.evidence_for.add(factor)

    html = author_client.get(url("factor-edit", incident, factor.pk), **HTMX).content.decode()

    assert "checked" in evidence_box(html, late)
    assert "checked" not in evidence_box(html, early)


def test_editing_a_factors_evidence_saves_it_and_records_it_in_history(
    author_client, author, incident, events
):
    early, late = events
    factor = FactorFactory(incident=incident)
    late.evidence_for.add(factor)
    data = {
        **factor_data(
            prefix=f"factor-{factor.pk}",
            category=factor.category.pk,
            description=factor.description,
        ),
        f"factor-{factor.pk}-evidence": [early.pk],
    }

    response = author_client.post(url("factor-edit", incident, factor.pk), data, **HTMX)

    assert response.status_code == 200
    assert list(factor.evidence.all()) == [early]
    latest = factor.history.order_by("-history_date").first()
    assert (latest.history_type, latest.history_user) == ("~", author)
    assert latest.history_change_reason == f"Evidence: timeline events {early.pk}."


def test_an_event_of_another_postmortem_is_a_form_error(author_client, incident, events):
    early, _ = events
    elsewhere = TimelineEventFactory(description="Not this one.")
    factor = FactorFactory(incident=incident, description="Old text.")
    early.evidence_for.add(factor)
    data = {
        **factor_data(prefix=f"factor-{factor.pk}", description="New text."),
        f"factor-{factor.pk}-evidence": [early.pk, elsewhere.pk],
    }

    response = author_client.post(url("factor-edit", incident, factor.pk), data)

    assert response.status_code == 400
    html = response.content.decode()
    assert escape(f"Event {elsewhere.pk} is not on this postmortem's timeline") in html
    factor.refresh_from_db()
    assert factor.description == "Old text."
    assert list(factor.evidence.all()) == [early]
    assert not elsewhere.evidence_for.exists()
    assert factor.history.count() == 1


def test_a_new_factor_citing_another_postmortems_event_is_not_added(author_client, incident):
    elsewhere = TimelineEventFactory()
    data = {**factor_data(), "factor-new-evidence": [elsewhere.pk]}

    response = author_client.post(url("factor-create", incident), data, **HTMX)

    assert response.status_code == 200  # htmx swaps the errors in
    assert escape(f"Event {elsewhere.pk} is not on this postmortem's timeline") in (
        response.content.decode()
    )
    assert not incident.factors.exists()


def test_the_factor_editor_runs_as_many_queries_for_20_cited_events_as_for_2(author_client, author):
    counts = []
    for n in (2, 20):
        incident = IncidentFactory(status=ReviewStatus.DRAFT)
        incident.authors.add(author)
        add_factors(incident, 3)
        for _ in range(n):
            event = TimelineEventFactory(incident=incident, occurred_at=EARLY)
            event.evidence_for.add(*incident.factors.all())
        with CaptureQueriesContext(connection) as queries:
            response = author_client.get(url("factor-create", incident), **HTMX)
        assert response.content.decode().count('name="factor-new-evidence"') == n
        counts.append(len(queries))

    assert counts[0] == counts[1]


# --- Action items ----------------------------------------------------------------------


def test_adding_an_action_item_with_htmx_shows_owner_and_due_date(
    author_client, incident, other_author
):
    data = action_item_data(owner=other_author.pk, due_date="2024-07-01")

    response = author_client.post(url("action-item-create", incident), data, **HTMX)

    assert response.status_code == 200
    item = incident.action_items.get()
    assert (item.owner, item.due_date) == (other_author, date(2024, 7, 1))
    html = response.content.decode()
    assert "Action item added." in html
    assert "other-author" in html
    assert "1 Jul 2024" in html


def test_adding_an_action_item_without_htmx_redirects(author_client, incident):
    response = author_client.post(url("action-item-create", incident), action_item_data())

    assert response.url == edit_page(incident, "action-items")
    assert incident.action_items.count() == 1


def test_the_owner_picker_lists_people_by_user_name(author_client, incident, other_author):
    html = author_client.get(url("action-item-create", incident), **HTMX).content.decode()

    assert f'<option value="{other_author.pk}">other-author</option>' in html


def test_an_action_item_needs_a_title(author_client, incident):
    response = author_client.post(
        url("action-item-create", incident), action_item_data(title=""), **HTMX
    )

    assert "Say what should be done." in response.content.decode()
    assert not incident.action_items.exists()


@time_machine.travel(TODAY, tick=False)
@pytest.mark.parametrize(
    ("due", "status", "overdue"),
    [
        (date(2024, 6, 9), ActionItemStatus.OPEN, True),
        (date(2024, 6, 9), ActionItemStatus.IN_PROGRESS, True),
        (date(2024, 6, 9), ActionItemStatus.WONT_DO, False),
        (date(2024, 6, 10), ActionItemStatus.OPEN, False),
        (None, ActionItemStatus.OPEN, False),
    ],
)
def test_overdue_action_items_are_flagged_in_words(author_client, incident, due, status, overdue):
    ActionItemFactory(incident=incident, due_date=due, status=status)

    html = author_client.get(url("action-item-create", incident), **HTMX).content.decode()

    assert ('class="badge parts-overdue">Overdue<' in html) is overdue


@time_machine.travel(TODAY, tick=False)
def test_completing_an_action_item_stamps_when(author_client, incident):
    item = ActionItemFactory(incident=incident, due_date=date(2024, 6, 1))
    data = action_item_data(prefix=f"action-item-{item.pk}", status=ActionItemStatus.DONE)

    response = author_client.post(url("action-item-edit", incident, item.pk), data, **HTMX)

    item.refresh_from_db()
    assert item.status == ActionItemStatus.DONE
    assert item.completed_at == TODAY
    html = response.content.decode()
    assert "Completed" in html
    assert "Overdue" not in html


def test_editing_an_action_item_without_htmx_redirects(author_client, incident):
    item = ActionItemFactory(incident=incident)
    data = action_item_data(prefix=f"action-item-{item.pk}", title="Canary every rollout")

    response = author_client.post(url("action-item-edit", incident, item.pk), data)

    assert response.url == edit_page(incident, "action-items")
    item.refresh_from_db()
    assert item.title == "Canary every rollout"


def test_edit_opens_the_action_item_as_an_inline_form(author_client, incident):
    item = ActionItemFactory(incident=incident, due_date=date(2024, 7, 1))

    html = author_client.get(url("action-item-edit", incident, item.pk), **HTMX).content.decode()

    assert f'name="action-item-{item.pk}-title"' in html
    assert 'type="date"' in html
    assert 'value="2024-07-01"' in html


def test_deleting_an_action_item_with_htmx(author_client, incident):
    item = ActionItemFactory(incident=incident, title="Remove me")

    response = author_client.post(url("action-item-delete", incident, item.pk), **HTMX)

    assert not ActionItem.objects.filter(pk=item.pk).exists()
    assert "Remove me" not in response.content.decode()


def test_deleting_an_action_item_without_htmx_redirects(author_client, incident):
    item = ActionItemFactory(incident=incident)

    response = author_client.post(url("action-item-delete", incident, item.pk))

    assert response.url == edit_page(incident, "action-items")
    assert not ActionItem.objects.filter(pk=item.pk).exists()


# --- Sources ----------------------------------------------------------------------------


def test_adding_a_source_with_htmx_lists_it(author_client, incident):
    response = author_client.post(url("source-create", incident), source_data(), **HTMX)

    source = incident.sources.get()
    html = response.content.decode()
    assert f'href="{source.url}"' in html
    assert "Status page history" in html
    assert "Source added." in html


def test_adding_a_source_without_htmx_redirects(author_client, incident):
    response = author_client.post(url("source-create", incident), source_data())

    assert response.url == edit_page(incident, "sources")
    assert incident.sources.count() == 1


def test_a_duplicate_source_url_is_a_form_error(author_client, incident):
    author_client.post(url("source-create", incident), source_data(), **HTMX)

    response = author_client.post(
        url("source-create", incident), source_data(title="Again"), **HTMX
    )

    assert response.status_code == 200
    assert services_parts.DUPLICATE_SOURCE in response.content.decode()
    assert incident.sources.count() == 1


def test_a_duplicate_source_url_without_htmx_is_a_400_with_the_error(author_client, incident):
    Source.objects.create(incident=incident, url=source_data()["source-new-url"], kind="news")

    response = author_client.post(url("source-create", incident), source_data())

    assert response.status_code == 400
    assert services_parts.DUPLICATE_SOURCE in response.content.decode()


def test_a_duplicate_that_wins_a_race_is_still_a_form_error(author_client, incident, monkeypatch):
    # Two identical submissions at once both pass the check; the constraint catches the second.
    monkeypatch.setattr(services_parts, "_already_listed", lambda incident, url: False)
    author_client.post(url("source-create", incident), source_data(), **HTMX)

    response = author_client.post(url("source-create", incident), source_data(), **HTMX)

    assert response.status_code == 200
    assert services_parts.DUPLICATE_SOURCE in response.content.decode()
    assert incident.sources.count() == 1


def test_the_same_source_url_may_serve_two_incidents(author_client, incident, other_incident):
    author_client.post(url("source-create", incident), source_data(), **HTMX)

    author_client.post(url("source-create", other_incident), source_data(), **HTMX)

    assert other_incident.sources.count() == 1


def test_deleting_a_source(author_client, incident):
    source = Source.objects.create(incident=incident, url="https://a.example", kind="news")

    response = author_client.post(url("source-delete", incident, source.pk), **HTMX)

    assert not Source.objects.filter(pk=source.pk).exists()
    assert "https://a.example" not in response.content.decode()


def test_deleting_a_source_without_htmx_redirects(author_client, incident):
    source = Source.objects.create(incident=incident, url="https://a.example", kind="news")

    response = author_client.post(url("source-delete", incident, source.pk))

    assert response.url == edit_page(incident, "sources")
    assert not Source.objects.filter(pk=source.pk).exists()


# --- Who may edit ---------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in(client, incident):
    response = client.post(url("factor-create", incident), factor_data())

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))
    assert not incident.factors.exists()


@pytest.mark.parametrize(
    ("user", "status", "expected"),
    [
        ("viewer", ReviewStatus.PUBLISHED, 403),  # may read it, may not edit it
        ("viewer", ReviewStatus.DRAFT, 404),  # may not even know the draft exists
        ("other_author", ReviewStatus.DRAFT, 404),
        ("other_author", ReviewStatus.PUBLISHED, 403),
        ("reviewer", ReviewStatus.DRAFT, 403),  # reviewers see drafts, edit from review on
        ("reviewer", ReviewStatus.IN_REVIEW, 200),
        ("reviewer", ReviewStatus.PUBLISHED, 200),
        ("admin_user", ReviewStatus.DRAFT, 200),
        ("author", ReviewStatus.PUBLISHED, 200),
    ],
)
def test_who_may_add_a_factor(client, request, author, user, status, expected):
    incident = IncidentFactory(status=status)
    incident.authors.add(author)
    client.force_login(request.getfixturevalue(user))

    response = client.post(url("factor-create", incident), factor_data(), **HTMX)

    assert response.status_code == expected
    assert incident.factors.exists() is (expected == 200)


def test_a_reviewer_edits_a_factor_of_a_postmortem_in_review(client, reviewer, author):
    incident = IncidentFactory(status=ReviewStatus.IN_REVIEW)
    incident.authors.add(author)
    factor = FactorFactory(incident=incident)
    client.force_login(reviewer)
    data = factor_data(prefix=f"factor-{factor.pk}", description="Reviewer's wording.")

    response = client.post(url("factor-edit", incident, factor.pk), data, **HTMX)

    assert response.status_code == 200
    factor.refresh_from_db()
    assert factor.description == "Reviewer's wording."
    assert factor.history.order_by("-history_date").first().history_user == reviewer


def test_an_admin_edits_every_part_of_someone_elses_draft(client, admin_user, incident):
    client.force_login(admin_user)
    item = ActionItemFactory(incident=incident)

    responses = [
        client.post(url("factor-create", incident), factor_data(), **HTMX),
        client.post(
            url("action-item-edit", incident, item.pk),
            action_item_data(prefix=f"action-item-{item.pk}", title="Admin's title"),
            **HTMX,
        ),
        client.post(url("source-create", incident), source_data(), **HTMX),
    ]

    assert [r.status_code for r in responses] == [200, 200, 200]
    item.refresh_from_db()
    assert item.title == "Admin's title"
    assert incident.factors.count() == incident.sources.count() == 1


def test_a_viewer_cannot_delete_a_part_of_a_published_postmortem(client, viewer, author):
    incident = IncidentFactory(status=ReviewStatus.PUBLISHED)
    incident.authors.add(author)
    item = ActionItemFactory(incident=incident)
    client.force_login(viewer)

    response = client.post(url("action-item-delete", incident, item.pk), **HTMX)

    assert response.status_code == 403
    assert ActionItem.objects.filter(pk=item.pk).exists()


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("factor-edit", lambda incident: FactorFactory(incident=incident)),
        ("factor-delete", lambda incident: FactorFactory(incident=incident)),
        ("action-item-edit", lambda incident: ActionItemFactory(incident=incident)),
        ("action-item-delete", lambda incident: ActionItemFactory(incident=incident)),
        (
            "source-delete",
            lambda incident: Source.objects.create(
                incident=incident, url="https://a.example", kind=SourceKind.NEWS
            ),
        ),
    ],
)
def test_a_part_of_another_incident_is_not_found(
    author_client, incident, other_incident, name, make
):
    part = make(other_incident)

    get = author_client.get(url(name, incident, part.pk), **HTMX)
    post = author_client.post(url(name, incident, part.pk), **HTMX)

    assert get.status_code in (404, 405)  # delete URLs refuse GET before looking
    assert post.status_code == 404
    assert type(part).objects.filter(pk=part.pk).exists()


# --- Query counts and page rules ------------------------------------------------------


def add_factors(incident, n: int) -> None:
    categories = list(FailureCategory.objects.all())
    for i in range(n):
        role = list(FactorRole)[i % 3]
        FactorFactory(incident=incident, role=role, category=categories[i % len(categories)])


def add_action_items(incident, n: int) -> None:
    for i in range(n):
        # An unusable password: hashing 22 real ones would dominate the test's time.
        owner = UserFactory(username=f"owner-{incident.pk}-{i}", password="!")
        ActionItemFactory(incident=incident, owner=owner, due_date=date(2024, 1, 1))


def add_sources(incident, n: int) -> None:
    for i in range(n):
        Source.objects.create(incident=incident, url=f"https://e.example/{i}", kind="news")


@pytest.mark.parametrize(
    ("name", "add_rows"),
    [
        ("factor-create", add_factors),
        ("action-item-create", add_action_items),
        ("source-create", add_sources),
    ],
)
def test_an_editor_runs_as_many_queries_for_20_rows_as_for_2(author_client, author, name, add_rows):
    counts = []
    for n in (2, 20):
        incident = IncidentFactory(status=ReviewStatus.DRAFT)
        incident.authors.add(author)
        add_rows(incident, n)
        with CaptureQueriesContext(connection) as queries:
            response = author_client.get(url(name, incident), **HTMX)
        assert response.status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1]


def test_the_editors_need_no_inline_script_or_style(author_client, incident):
    # The Content-Security-Policy forbids both: they would silently not work.
    FactorFactory(incident=incident)
    ActionItemFactory(incident=incident)
    for name in ("factor-create", "action-item-create", "source-create"):
        html = author_client.get(url(name, incident), **HTMX).content.decode()
        assert "style=" not in html
        assert "<script>" not in html
        assert 'src="/static/js/parts.js" defer' in html
