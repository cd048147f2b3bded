"""/api/patterns/, /api/incidents/{slug}/related/ and /api/stats/."""

from datetime import UTC, datetime, timedelta
from itertools import combinations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import TokenScope
from patterns.models import Pattern
from patterns.services import refresh_patterns
from postmortems.choices import ActionItemStatus, ReviewStatus
from postmortems.models import ChangeType, FailureCategory, IncidentVendor
from tests.api.conftest import error_of
from tests.factories import ActionItemFactory, FactorFactory, IncidentFactory, VendorFactory

pytestmark = pytest.mark.django_db

UNSTAGED_CONFIG = "cat:non-staged-rollout+ct:config-change"
T0 = datetime(2021, 1, 1, tzinfo=UTC)


def labelled(n: int, *attributes: str, vendor: str, **kwargs):
    incident = IncidentFactory(
        slug=f"incident-{n}", title=f"case{n}", started_at=T0 + timedelta(days=30 * n), **kwargs
    )
    for attribute in attributes:
        kind, slug = attribute.split(":")
        if kind == "ct":
            incident.change_types.add(ChangeType.objects.get(slug=slug))
        else:
            FactorFactory(incident=incident, category=FailureCategory.objects.get(slug=slug))
    IncidentVendor.objects.create(
        incident=incident, vendor=VendorFactory(slug=vendor, name=vendor.title()), is_primary=True
    )
    return incident


@pytest.fixture
def knowledge_base(db):
    """Unstaged config rollouts at 3 vendors, a leap-day pattern of 4, and a pair below 3."""
    config = [
        labelled(n, "ct:config-change", "cat:non-staged-rollout", vendor=v)
        for n, v in enumerate(["acme", "globex", "initech"])
    ]
    leap = [
        labelled(10 + n, "ct:code-deploy", "cat:time-handling", "cat:release-process-bypassed",
                 vendor=v)
        for n, v in enumerate(["acme", "acme", "globex", "umbrella"])
    ]  # fmt: skip
    pair = [labelled(20 + n, "ct:os-upgrade", "cat:retry-storm", vendor="acme") for n in range(2)]
    ActionItemFactory(incident=config[0], status=ActionItemStatus.DONE, completed_at=T0)
    refresh_patterns()
    return {"config": config, "leap": leap, "pair": pair}


def test_list_ranks_patterns_above_the_minimum_support(client_for, viewer, knowledge_base):
    response = client_for(viewer).get("/api/patterns/")

    assert response.status_code == 200
    keys = [p["key"] for p in response.json()["results"]]
    assert set(keys) == {
        UNSTAGED_CONFIG,
        "cat:release-process-bypassed+cat:time-handling+ct:code-deploy",
    }
    scores = [p["score"] for p in response.json()["results"]]
    assert scores == sorted(scores, reverse=True)
    first = next(p for p in response.json()["results"] if p["key"] == UNSTAGED_CONFIG)
    assert first["support"] == 3 and first["vendors"] == ["acme", "globex", "initech"]
    assert first["attributes"] == [
        {"key": "cat:non-staged-rollout", "kind": "category", "slug": "non-staged-rollout",
         "name": "Rollout not staged"},
        {"key": "ct:config-change", "kind": "change_type", "slug": "config-change",
         "name": "Configuration change"},
    ]  # fmt: skip
    assert first["title"] == (
        "Configuration change + Rollout not staged — 3 incidents across 3 vendors since 2021"
    )
    assert first["emerging"] is False


def test_filters_by_attribute_vendor_and_minimum_support(client_for, viewer, knowledge_base):
    api = client_for(viewer)

    def keys(**params):
        response = api.get("/api/patterns/", params)
        assert response.status_code == 200, response.json()
        return {p["key"] for p in response.json()["results"]}

    assert keys(attribute="ct:config-change") == {UNSTAGED_CONFIG}
    assert keys(attribute="cat:time-handling,ct:code-deploy") == {
        "cat:release-process-bypassed+cat:time-handling+ct:code-deploy"
    }
    assert keys(attribute=["ct:config-change", "ct:code-deploy"]) == set()
    assert keys(vendor="umbrella") == {
        "cat:release-process-bypassed+cat:time-handling+ct:code-deploy"
    }
    assert keys(min_support=4) == {"cat:release-process-bypassed+cat:time-handling+ct:code-deploy"}
    assert "cat:retry-storm+ct:os-upgrade" in keys(min_support=2)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"attribute": "config-change"}, "attribute"),
        ({"attribute": "ct:no-such-thing"}, "attribute"),
        ({"vendor": "nobody"}, "vendor"),
        ({"min_support": "many"}, "min_support"),
    ],
)
def test_bad_filters_are_a_400_naming_the_parameter(
    client_for, viewer, knowledge_base, params, field
):
    response = client_for(viewer).get("/api/patterns/", params)

    assert response.status_code == 400
    assert field in error_of(response)["fields"]


def test_detail_lists_exactly_the_members_oldest_first(client_for, viewer, knowledge_base):
    pattern = Pattern.objects.get(key=UNSTAGED_CONFIG)

    body = client_for(viewer).get(f"/api/patterns/{pattern.pk}/").json()

    assert [m["slug"] for m in body["members"]] == [i.slug for i in knowledge_base["config"]]
    assert [m["prior_completed_actions"] for m in body["members"]] == [0, 1, 1]
    assert body["html_url"].endswith(f"/patterns/{pattern.pk}/")


def test_detail_of_a_large_pattern_lists_its_latest_50_members_oldest_first(client_for, viewer):
    incidents = [
        labelled(100 + n, "ct:config-change", "cat:non-staged-rollout", vendor=f"v{n}")
        for n in range(53)
    ]
    ActionItemFactory(incident=incidents[0], status=ActionItemStatus.DONE, completed_at=T0)
    refresh_patterns()
    pattern = Pattern.objects.get(key=UNSTAGED_CONFIG)

    body = client_for(viewer).get(f"/api/patterns/{pattern.pk}/").json()

    assert body["support"] == 53
    assert [m["slug"] for m in body["members"]] == [i.slug for i in incidents[3:]]
    assert {m["prior_completed_actions"] for m in body["members"]} == {1}


def test_the_list_names_the_top_vendors_and_the_pattern_itself_every_one(client_for, viewer):
    vendors = [f"v{n}" for n in range(8)]
    for n, vendor in enumerate(vendors):
        labelled(n, "ct:config-change", "cat:non-staged-rollout", vendor=vendor)
    labelled(20, "ct:os-upgrade", vendor="v7")  # v7 has the most incidents: named first
    refresh_patterns()
    api = client_for(viewer)

    [listed] = api.get("/api/patterns/").json()["results"]
    detail = api.get(f"/api/patterns/{listed['id']}/").json()

    assert listed["vendor_count"] == detail["vendor_count"] == 8
    assert listed["vendors"] == ["v7", "v0", "v1", "v2", "v3"]
    assert detail["vendors"] == vendors


def test_the_pattern_list_costs_the_same_queries_for_few_or_many(
    client_for, viewer, knowledge_base
):
    api = client_for(viewer)

    def queries(**params) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api.get("/api/patterns/", params).status_code == 200
        return len(ctx.captured_queries)

    queries()  # the first request with a token also records when it was used
    assert queries(min_support=4) == queries(min_support=2)


def test_related_incidents_with_reasons_and_drafts_stay_hidden(
    client_for, viewer, author, knowledge_base
):
    subject = knowledge_base["leap"][0]
    IncidentFactory(title="Unrelated")  # keeps shared attributes informative

    body = client_for(viewer).get(f"/api/incidents/{subject.slug}/related/").json()

    assert body["incident"] == subject.slug
    assert [r["slug"] for r in body["results"]][:3] == [i.slug for i in knowledge_base["leap"][1:]]
    assert "Both: Time handling" in body["results"][0]["reasons"]
    assert "Same vendor: Acme" in body["results"][0]["reasons"]
    draft = IncidentFactory(status=ReviewStatus.DRAFT)
    draft.authors.add(author)
    assert client_for(viewer).get(f"/api/incidents/{draft.slug}/related/").status_code == 404
    assert client_for(author).get(f"/api/incidents/{draft.slug}/related/").status_code == 200


def test_stats_serve_the_precomputed_metrics(client_for, viewer, knowledge_base):
    body = client_for(viewer, scope=TokenScope.READ).get("/api/stats/").json()

    assert body["published"] == 9
    assert {
        "durations",
        "downtime",
        "monthly",
        "resolve_distribution",
        "heat_map",
        "rising",
    } <= set(body)
    groups = {row["group"] for row in body["durations"]["vendor"]}
    assert groups == {"Acme", "Globex", "Initech", "Umbrella"}


def test_stats_before_any_refresh_are_empty_not_an_error(client_for, viewer):
    body = client_for(viewer).get("/api/stats/").json()

    assert body["computed_at"] is None and body["durations"]["vendor"] == []


def test_the_pattern_api_needs_a_signed_in_caller(api_client, knowledge_base):
    for path in ("/api/patterns/", "/api/stats/", "/api/incidents/incident-0/related/"):
        assert api_client.get(path).status_code in (401, 403)
    assert api_client.post("/api/patterns/", {}).status_code in (401, 403)


def test_patterns_are_read_only(client_for, admin_user, knowledge_base):
    response = client_for(admin_user).post("/api/patterns/", {"key": "x"}, format="json")

    assert response.status_code == 405


def test_admins_refresh_through_the_api_right_after_an_import(client_for, viewer, admin_user):
    for n in range(3):
        labelled(n, "ct:config-change", "cat:non-staged-rollout", vendor=f"v{n}")
    assert client_for(viewer).post("/api/patterns/refresh/").status_code == 403

    response = client_for(admin_user).post("/api/patterns/refresh/")

    assert response.status_code == 200
    assert response.json()["new"] == 1
    keys = [p["key"] for p in client_for(viewer).get("/api/patterns/").json()["results"]]
    assert keys == [UNSTAGED_CONFIG]


def test_percent_signs_in_filters_are_reported_not_crashed_on(client_for, viewer, knowledge_base):
    response = client_for(viewer).get("/api/patterns/", {"vendor": "%Y-%m", "attribute": "%s"})

    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert fields["vendor"] == ["No vendor with the slug “%Y-%m”."]
    assert "“%s” is not an attribute" in fields["attribute"][0]


def test_a_listed_pattern_reads_as_its_serializer_s_fields_declare(
    client_for, viewer, knowledge_base, rf
):
    # The list builds each pattern's JSON directly; it must be what DRF's field-by-field
    # path gives, URL and times included.
    from rest_framework import serializers

    from patterns.api.serializers import PatternSerializer

    listed = client_for(viewer).get("/api/patterns/?min_support=2").json()["results"]
    request = rf.get("/api/patterns/", HTTP_HOST="testserver")
    names = {"ct:config-change": "Configuration change"}
    serializer = PatternSerializer(context={"request": request, "names": names})
    pattern = Pattern.objects.get(key=UNSTAGED_CONFIG)

    direct = serializer.to_representation(pattern)
    assert direct == dict(serializers.ModelSerializer.to_representation(serializer, pattern))
    assert direct["html_url"] == f"http://testserver/patterns/{pattern.pk}/"
    assert len(listed) == 3 and all(p["html_url"].endswith(f"/{p['id']}/") for p in listed)


def test_a_page_of_patterns_is_built_once_per_refresh(client_for, viewer, knowledge_base):
    api = client_for(viewer)
    api.get("/api/patterns/", {"min_support": 4})  # the token's first use is recorded once

    with CaptureQueriesContext(connection) as first:
        built = api.get("/api/patterns/").json()
    with CaptureQueriesContext(connection) as second:
        again = api.get("/api/patterns/").json()
    assert again == built and len(second) < len(first)

    # A new refresh finds a new pattern: the next page shows it at once.
    for n in range(3):
        labelled(30 + n, "ct:os-upgrade", "cat:monitoring-gap", vendor=f"newco{n}")
    refresh_patterns()
    keys = [p["key"] for p in api.get("/api/patterns/").json()["results"]]
    assert "cat:monitoring-gap+ct:os-upgrade" in keys


@pytest.mark.parametrize("min_support", [None, 2, 3, 4])
def test_every_listed_pattern_answers_at_its_url_whatever_its_support(
    client_for, viewer, client, knowledge_base, min_support
):
    api = client_for(viewer)
    client.force_login(viewer)
    params = {} if min_support is None else {"min_support": min_support}
    listed = api.get("/api/patterns/", params).json()["results"]
    assert listed

    for item in listed:
        detail = api.get(item["url"])
        assert detail.status_code == 200, item["key"]
        assert (detail.json()["id"], detail.json()["key"]) == (item["id"], item["key"])
        assert detail.json()["emerging"] is item["emerging"]
        assert item["url"] == f"http://testserver/api/patterns/{item['id']}/"
        assert client.get(item["html_url"]).status_code == 200


def test_an_emerging_pattern_has_its_detail_without_repeating_the_minimum(
    client_for, viewer, knowledge_base
):
    api = client_for(viewer)
    [emerging] = [
        p for p in api.get("/api/patterns/", {"min_support": 2}).json()["results"] if p["emerging"]
    ]

    body = api.get(f"/api/patterns/{emerging['id']}/").json()

    assert body["key"] == "cat:retry-storm+ct:os-upgrade" and body["support"] == 2
    assert sorted(m["slug"] for m in body["members"]) == [i.slug for i in knowledge_base["pair"]]


SHARED_FOUR = ["cat:config-error", "cat:monitoring-gap", "cat:non-staged-rollout",
               "ct:config-change"]  # fmt: skip


def test_combinations_with_the_same_incidents_are_listed_once_naming_the_others(client_for, viewer):
    shared = [labelled(n, *SHARED_FOUR, vendor=f"v{n}") for n in range(3)]
    refresh_patterns()
    api = client_for(viewer)

    [listed] = api.get("/api/patterns/", {"min_support": 2}).json()["results"]
    detail = api.get(listed["url"]).json()

    # 4 triples (and 6 pairs) of the four attributes have these very incidents.
    assert listed["support"] == 3 and len(listed["attributes"]) == 3
    assert len(listed["equivalent_keys"]) == 3
    assert {listed["key"], *listed["equivalent_keys"]} == {
        "+".join(triple) for triple in combinations(SHARED_FOUR, 3)
    }
    assert detail["equivalent_keys"] == listed["equivalent_keys"]
    assert sorted(m["slug"] for m in detail["members"]) == [i.slug for i in shared]


def test_the_attribute_filter_finds_a_pattern_by_an_attribute_folded_into_it(client_for, viewer):
    for n in range(3):
        labelled(n, *SHARED_FOUR, vendor=f"v{n}")
    refresh_patterns()
    api = client_for(viewer)
    [pattern] = Pattern.objects.all()
    [folded] = set(SHARED_FOUR) - set(pattern.attributes)

    found = api.get("/api/patterns/", {"attribute": folded}).json()["results"]
    every = api.get("/api/patterns/", {"attribute": ",".join(SHARED_FOUR)}).json()["results"]

    assert [p["id"] for p in found] == [p["id"] for p in every] == [pattern.pk]
