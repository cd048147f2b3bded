"""The patterns API shows each family once; every listed pattern answers at its URL."""

import pytest

from patterns.models import Pattern
from patterns.services import refresh_patterns
from tests.patterns.test_evidence import NOW, incident, overlapping_family

pytestmark = pytest.mark.django_db


def test_the_api_lists_each_family_once_and_the_head_lists_its_variants(client_for, admin_user):
    overlapping_family()
    refresh_patterns(now=NOW)
    api = client_for(admin_user)

    listed = api.get("/api/patterns/").json()["results"]
    everything = api.get("/api/patterns/?variants=true").json()["results"]

    assert {p["id"] for p in listed} == set(
        Pattern.objects.families().recurring().values_list("id", flat=True)
    )
    assert len(everything) == Pattern.objects.recurring().count() > len(listed)
    head = next(p for p in listed if p["variant_count"])
    detail = api.get(head["url"]).json()
    assert len(detail["variants"]) == head["variant_count"]
    variant = api.get(detail["variants"][0]["url"]).json()
    assert variant["variant_of"] == head["url"]
    assert variant["evidence_text"].startswith(f"{variant['support']} incidents where")


def test_every_listed_pattern_answers_at_its_url_whatever_its_support(
    client_for, admin_user, client
):
    overlapping_family()
    for vendor in ("p", "q"):
        incident("ct:credential-rotation", "cat:security", vendor=vendor)
    refresh_patterns(now=NOW)
    api = client_for(admin_user)
    client.force_login(admin_user)

    listed = api.get("/api/patterns/?min_support=2&variants=true").json()["results"]

    assert any(p["support"] == 2 for p in listed)
    for item in listed:
        assert api.get(item["url"]).status_code == 200, item["key"]
        assert client.get(item["html_url"]).status_code == 200, item["key"]
