"""The demo's real outages show the recurring patterns an SRE would name, on first start.

The expected members are read from the demo files' own labels, so each assertion checks the
engine against the labelled truth, not against what it found last time.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml
from django.urls import reverse
from django.utils.html import escape
from rest_framework.test import APIClient

from patterns.models import Pattern
from patterns.services import refresh_patterns
from postmortems.demo.loader import demo_files, load_demo
from postmortems.models import Incident

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, tzinfo=UTC)

# The patterns of the demo, as careful labelling of the public record gives them.
KNOWN = {
    "cf:non-staged-rollout": "Rollout not staged (contributing factor)",
    "cf:automation-amplified": "Automation amplified (contributing factor)",
    "cat:certificate-expiry+ct:time-event": "Time event + Certificate expiry",
    "cat:time-handling+ct:time-event": "Time event + Time handling",
    "cat:config-error+ct:network-change": "Network change + Configuration error",
    "cat:unsafe-tooling+ct:manual-operation": "Manual operation + Unsafe tooling",
}


def labelled() -> dict[str, set[str]]:
    """Each demo outage's attributes, from its file: ``ct:``, ``cat:`` (any role), ``cf:``."""
    found = {}
    for path in demo_files():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        attributes = {f"ct:{slug}" for slug in data["change_types"]}
        for factor in data.get("factors", []):
            attributes.add(f"cat:{factor['category']}")
            if factor["role"] == "contributing":
                attributes.add(f"cf:{factor['category']}")
        found[data["slug"]] = attributes
    return found


def expected_members(key: str) -> set[str]:
    wanted = set(key.split("+"))
    return {slug for slug, attributes in labelled().items() if wanted <= attributes}


def member_slugs(pattern: Pattern) -> set[str]:
    return set(
        Incident.objects.filter(id__in=pattern.latest_members).values_list("slug", flat=True)
    )


@pytest.fixture
def demo():
    load_demo()
    refresh_patterns(now=NOW)


def test_the_demo_holds_at_least_forty_real_outages(demo):
    assert Incident.objects.published().count() == len(labelled()) >= 40


def test_every_known_pattern_is_found_with_exactly_its_members_within_the_top_ten(demo):
    top = list(Pattern.objects.families().recurring()[:10])
    keys = [p.key for p in top]

    for key, name in KNOWN.items():
        assert key in keys, (key, keys)
        pattern = top[keys.index(key)]
        assert member_slugs(pattern) == expected_members(key), key
        assert pattern.title.startswith(f"{name} — {pattern.support} incidents")
        assert pattern.evidence > 0 or pattern.p_value < 0.01, key


def test_no_chance_level_combination_ranks_above_a_known_pattern(demo):
    ranked = list(Pattern.objects.families().recurring())
    last_known = max(i for i, p in enumerate(ranked) if p.key in KNOWN)

    above = [p for p in ranked[:last_known] if "+" in p.key]
    assert all(p.lift > 1.5 and p.p_value < 0.05 for p in above), [
        (p.key, p.lift, p.p_value) for p in above
    ]


def test_the_patterns_page_shows_the_demos_patterns_with_their_evidence(demo, client, viewer):
    client.force_login(viewer)

    page = client.get(reverse("patterns:dashboard")).content.decode()

    assert "No change type, contributing factor or combination" not in page
    cert = Pattern.objects.get(key="cat:certificate-expiry+ct:time-event")
    assert cert.title in page
    assert f"{cert.support} incidents where" in page and "expected by chance" in page


def test_a_pattern_page_says_its_evidence_in_words(demo, client, viewer):
    client.force_login(viewer)
    pattern = Pattern.objects.get(key="cat:time-handling+ct:time-event")

    page = client.get(reverse("patterns:pattern-detail", args=[pattern.pk])).content.decode()

    assert f"3 incidents where {pattern.expected:.1f} were expected by chance" in page
    assert "Fisher" in page
    for slug in expected_members(pattern.key):
        assert escape(Incident.objects.get(slug=slug).title) in page


def test_vendor_and_incident_pages_show_the_patterns_they_take_part_in(demo, client, viewer):
    client.force_login(viewer)
    rollout = Pattern.objects.get(key="cf:non-staged-rollout")

    vendor = client.get(reverse("postmortems:vendor-detail", args=["cloudflare"])).content
    incident = client.get(
        reverse("postmortems:incident-detail", args=["crowdstrike-channel-file-291-2024-07"])
    ).content

    assert rollout.title in vendor.decode() and rollout.title in incident.decode()


def test_related_incidents_of_a_leap_second_are_the_other_time_bugs(demo, viewer):
    url = reverse("patterns-api:related", args=["cloudflare-leap-second-2017-01"])
    api = APIClient()
    api.force_authenticate(viewer)
    related = [r["slug"] for r in api.get(url).json()["results"]]

    assert {"reddit-leap-second-2012-06", "azure-leap-day-2012-02"} <= set(related[:3])
