"""A labelled set of outages pushed through the API: its planted patterns come out on top."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import VendorFactory

pytestmark = pytest.mark.django_db(transaction=True)

CONFIG_ROLLOUT = ("ct:config-change", "cat:non-staged-rollout")
LEAP = ("ct:code-deploy", "cat:time-handling", "cat:release-process-bypassed")
# (vendor, attributes, also): also = labels that vary from incident to incident.
OUTAGES = [
    ("azure", CONFIG_ROLLOUT, ("cat:software-bug",)),
    ("aws", CONFIG_ROLLOUT, ("cat:monitoring-gap",)),
    ("gcp", CONFIG_ROLLOUT, ()),
    ("cloudflare", CONFIG_ROLLOUT, ("ct:network-change",)),
    ("azure", LEAP, ()),
    ("github", LEAP, ("cat:monitoring-gap",)),
    ("aws", LEAP, ()),
    # Noise: every combination here occurs at most twice.
    ("fastly", ("ct:os-upgrade", "cat:retry-storm"), ()),
    ("fastly", ("ct:os-upgrade", "cat:hardware-failure"), ()),
    ("slack", ("ct:capacity-change", "cat:capacity-overload"), ()),
    ("slack", ("ct:manual-operation", "cat:human-error", "cat:retry-storm"), ()),
    ("gcp", ("ct:none", "cat:hardware-failure"), ()),
]


def body(n: int, vendor: str, labels: tuple[str, ...]) -> dict:
    started = datetime(2015, 1, 1, tzinfo=UTC) + timedelta(days=97 * n)
    return {
        "title": f"Outage {n} at {vendor}",
        "severity": "major",
        "vendors": [vendor],
        "started_at": started.isoformat(),
        "resolved_at": (started + timedelta(hours=3)).isoformat(),
        "summary": "A public postmortem.",
        "change_types": [label.split(":")[1] for label in labels if label.startswith("ct:")],
        "factors": [
            {"category": label.split(":")[1], "role": "contributing", "description": label}
            for label in labels
            if label.startswith("cat:")
        ],
    }


def test_the_planted_patterns_rank_first_with_exactly_their_members(
    client_for, admin_user, reference_data
):
    for vendor in {vendor for vendor, _, _ in OUTAGES}:
        VendorFactory(slug=vendor, name=vendor.title())
    api = client_for(admin_user)
    slugs = {}
    for n, (vendor, attributes, also) in enumerate(OUTAGES):
        created = api.post("/api/incidents/", body(n, vendor, attributes + also), format="json")
        assert created.status_code == 201, created.json()
        slug = created.json()["slug"]
        assert api.post(f"/api/incidents/{slug}/submit/", {}, format="json").status_code == 200
        assert api.post(f"/api/incidents/{slug}/publish/", {}, format="json").status_code == 200
        slugs[n] = slug
    assert api.post("/api/patterns/refresh/").status_code == 200

    listed = api.get("/api/patterns/").json()["results"]

    top = {frozenset(a["key"] for a in p["attributes"]): p for p in listed[:2]}
    assert set(top) == {frozenset(CONFIG_ROLLOUT), frozenset(LEAP)}
    for attributes, indexes in ((CONFIG_ROLLOUT, range(0, 4)), (LEAP, range(4, 7))):
        pattern = top[frozenset(attributes)]
        members = api.get(f"/api/patterns/{pattern['id']}/").json()["members"]
        assert sorted(m["slug"] for m in members) == sorted(slugs[i] for i in indexes)
    assert len(listed) == 2  # the noise stays below the minimum support
