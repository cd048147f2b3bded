"""Auto-classified incidents take part in patterns and are marked wherever they appear."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from classifier import services
from classifier.models import AutoAcceptPolicy
from patterns.models import Pattern
from patterns.services import refresh_patterns
from postmortems.choices import FactorRole, Origin, ReviewStatus
from postmortems.models import ChangeType, FailureCategory, Incident, IncidentVendor
from tests.factories import FactorFactory, IncidentFactory, VendorFactory

pytestmark = pytest.mark.django_db

TEXT = "A configuration change was pushed and it contained an invalid setting."


@pytest.fixture(autouse=True)
def lexicon_only(monkeypatch):
    monkeypatch.setattr(services.reference, "examples", lambda: ())
    cache.clear()


def hand_labelled(n, vendor):
    for i in range(n):
        incident = IncidentFactory(title=f"Written {i}", summary="A postmortem.")
        incident.change_types.set([ChangeType.objects.get(slug="config-change")])
        FactorFactory(
            incident=incident,
            role=FactorRole.ROOT_CAUSE,
            category=FailureCategory.objects.get(slug="config-error"),
        )
        IncidentVendor.objects.create(incident=incident, vendor=vendor, is_primary=True)


def imported(n, vendor):
    made = []
    for i in range(n):
        incident = IncidentFactory(
            title=f"Imported {i}",
            slug=f"imported-{i}",
            summary=TEXT,
            status=ReviewStatus.DRAFT,
            origin=Origin.IMPORTED,
            import_source=f"statuspage:{vendor.slug}",
            external_id=f"x{i}",
        )
        IncidentVendor.objects.create(incident=incident, vendor=vendor, is_primary=True)
        made.append(incident)
    return made


@pytest.fixture
def knowledge_base(db):
    """Two hand-labelled postmortems and two imports that a policy classifies and publishes:
    the pattern "config change + config error" has four incidents, two of them auto."""
    written, vendor = VendorFactory(slug="acme", name="Acme"), VendorFactory(slug="quokka")
    hand_labelled(2, written)
    made = imported(2, vendor)
    AutoAcceptPolicy.objects.create(vendor=vendor, threshold=0.5, publish=True)
    assert services.classify([i.id for i in made]).auto_classified == 2
    refresh_patterns(min_support=2)
    return made


PAIR = ["cat:config-error", "ct:config-change"]


def test_auto_classified_imports_join_the_pattern_and_are_counted(knowledge_base):
    pattern = Pattern.objects.get(attributes=PAIR)

    assert pattern.support == 4
    assert pattern.auto_members == 2


def test_the_dashboard_includes_them_and_its_switch_shows_what_holds_without(
    knowledge_base, viewer, client, settings
):
    settings.PATTERN_MIN_SUPPORT = 3
    client.force_login(viewer)
    title = Pattern.objects.get(attributes=PAIR).title

    default = client.get(reverse("patterns:dashboard")).content.decode()
    hand = client.get(reverse("patterns:dashboard") + "?hand_labelled=1").content.decode()

    assert title in default and "Includes auto-classified incidents" in default
    assert title not in hand  # two hand-labelled incidents are below the minimum of three


def test_they_are_marked_on_the_list_the_incident_page_the_pattern_and_the_api(
    knowledge_base, viewer, client
):
    client.force_login(viewer)
    incident = knowledge_base[0]
    pattern = Pattern.objects.get(attributes=PAIR)

    listing = client.get(reverse("postmortems:incident-list")).content.decode()
    page = client.get(reverse("postmortems:incident-detail", args=[incident.slug])).content.decode()
    pattern_page = client.get(
        reverse("patterns:pattern-detail", args=[pattern.pk])
    ).content.decode()
    api = client.get(f"/api/incidents/{incident.slug}/").json()
    listed = client.get("/api/incidents/").json()["results"]

    assert listing.count(">Auto-classified</span>") == 2
    assert ">Auto-classified</span>" in page
    assert pattern_page.count(">Auto-classified</span>") == 2
    assert "2 of its 4 incidents are auto-classified" in pattern_page
    assert api["auto_classified"] is True
    marked = {row["title"]: row["auto_classified"] for row in listed}
    assert marked == {
        "Written 0": False,
        "Written 1": False,
        "Imported 0": True,
        "Imported 1": True,
    }


def test_a_correction_by_a_person_removes_the_mark(knowledge_base, reviewer):
    incident = Incident.objects.get(id=knowledge_base[0].id)

    incident.change_types.add(ChangeType.objects.get(slug="code-deploy"))

    assert Incident.objects.get(id=incident.id).auto_classified is False
    assert incident.classification.state == "corrected"
