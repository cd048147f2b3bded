"""Every endpoint, role and review status, through API tokens (a token is its user).

``author`` wrote each incident; ``other_author`` is an author who did not.
Codes are (draft, in review, published) for per-incident actions. A draft a
person may not see is 404, as in the HTML pages, so its existence stays secret.
"""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from postmortems.choices import ReviewStatus
from postmortems.models import ChangeType, FailureCategory
from tests.factories import IncidentFactory, TimelineEventFactory, VendorFactory

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "viewer", "author", "other_author", "reviewer", "admin_user"]
STATUSES = [ReviewStatus.DRAFT, ReviewStatus.IN_REVIEW, ReviewStatus.PUBLISHED]
ANONYMOUS = (401, 401, 401)

# {action: {role: (draft, in_review, published)}}
INCIDENT_ACTIONS = {
    "retrieve": {
        "viewer": (404, 404, 200),
        "author": (200, 200, 200),
        "other_author": (404, 404, 200),
        "reviewer": (200, 200, 200),
        "admin_user": (200, 200, 200),
    },
    "update": {
        "viewer": (404, 404, 403),
        "author": (200, 200, 200),
        "other_author": (404, 404, 403),
        "reviewer": (403, 200, 200),
        "admin_user": (200, 200, 200),
    },
    "delete": {
        "viewer": (404, 404, 403),
        "author": (403, 403, 403),
        "other_author": (404, 404, 403),
        "reviewer": (403, 403, 403),
        "admin_user": (204, 204, 204),
    },
    "submit": {
        "viewer": (404, 404, 403),
        "author": (200, 403, 403),
        "other_author": (404, 404, 403),
        "reviewer": (403, 403, 403),
        "admin_user": (200, 403, 403),
    },
    "publish": {
        "viewer": (404, 404, 403),
        "author": (403, 403, 403),
        "other_author": (404, 404, 403),
        "reviewer": (403, 200, 403),
        "admin_user": (403, 200, 403),
    },
    "return": {
        "viewer": (404, 404, 403),
        "author": (403, 403, 403),
        "other_author": (404, 404, 403),
        "reviewer": (403, 200, 403),
        "admin_user": (403, 200, 403),
    },
}
# Whether each incident shows up in GET /api/incidents/.
LISTED = {
    "viewer": (False, False, True),
    "author": (True, True, True),
    "other_author": (False, False, True),
    "reviewer": (True, True, True),
    "admin_user": (True, True, True),
}
# Endpoints that do not depend on an incident: {(method, endpoint): {role: code}}.
SIGNED_IN_READS = dict.fromkeys(ROLES[1:], 200)
OTHER_ENDPOINTS = {
    ("post", "incident-list"): {
        "viewer": 403, "author": 201, "other_author": 201, "reviewer": 201, "admin_user": 201,
    },
    ("get", "vendor-list"): SIGNED_IN_READS,
    ("get", "vendor-detail"): SIGNED_IN_READS,
    ("post", "vendor-list"): {
        "viewer": 403, "author": 201, "other_author": 201, "reviewer": 201, "admin_user": 201,
    },
    ("patch", "vendor-detail"): {
        "viewer": 403, "author": 200, "other_author": 200, "reviewer": 200, "admin_user": 200,
    },
    ("get", "change-type-list"): SIGNED_IN_READS,
    ("get", "change-type-detail"): SIGNED_IN_READS,
    ("get", "category-list"): SIGNED_IN_READS,
    ("get", "category-detail"): SIGNED_IN_READS,
}  # fmt: skip
ENDPOINT_BODIES = {
    ("post", "incident-list"): {"title": "Written through the API"},
    ("post", "vendor-list"): {"name": "New Vendor"},
    ("patch", "vendor-detail"): {"notes": "Updated."},
}


@pytest.fixture
def client_as(request, client_for):
    def make(role: str) -> APIClient:
        if role == "anonymous":
            return APIClient()
        return client_for(request.getfixturevalue(role))

    return make


def incident_request(client: APIClient, action: str, incident):
    url = reverse("postmortems-api:incident-detail", args=[incident.slug])
    if_match = f'"{incident.version}"'
    if action == "retrieve":
        return client.get(url)
    if action == "update":
        return client.patch(url, {"title": "Edited"}, HTTP_IF_MATCH=if_match)
    if action == "delete":
        return client.delete(url, HTTP_IF_MATCH=if_match)
    action_url = reverse(f"postmortems-api:incident-{action}", args=[incident.slug])
    return client.post(action_url, {"comment": "Please expand the analysis."})


@pytest.mark.parametrize("action", list(INCIDENT_ACTIONS))
@pytest.mark.parametrize("role", ROLES)
def test_incident_permission_matrix(client_as, author, action, role):
    client = client_as(role)
    expected = ANONYMOUS if role == "anonymous" else INCIDENT_ACTIONS[action][role]
    for status, code in zip(STATUSES, expected, strict=True):
        incident = IncidentFactory(status=status)
        incident.authors.add(author)

        response = incident_request(client, action, incident)

        assert response.status_code == code, (action, role, status, response.json())


@pytest.mark.parametrize("role", ROLES[1:])
def test_the_list_shows_exactly_what_the_role_may_see(client_as, author, role):
    incidents = [IncidentFactory(status=status) for status in STATUSES]
    for incident in incidents:
        incident.authors.add(author)

    response = client_as(role).get(reverse("postmortems-api:incident-list"))

    listed = {row["slug"] for row in response.json()["results"]}
    assert tuple(i.slug in listed for i in incidents) == LISTED[role]


def test_anonymous_clients_may_not_list(client_as):
    assert client_as("anonymous").get(reverse("postmortems-api:incident-list")).status_code == 401


@pytest.mark.parametrize(("method", "endpoint"), list(OTHER_ENDPOINTS))
@pytest.mark.parametrize("role", ROLES)
def test_endpoint_permission_matrix(client_as, role, method, endpoint):
    vendor = VendorFactory(slug="acme", name="Acme")
    slugs = {
        "vendor-detail": vendor.slug,
        "change-type-detail": ChangeType.objects.first().slug,
        "category-detail": FailureCategory.objects.first().slug,
    }
    args = [slugs[endpoint]] if endpoint in slugs else []
    url = reverse(f"postmortems-api:{endpoint}", args=args)
    body = ENDPOINT_BODIES.get((method, endpoint))
    expected = 401 if role == "anonymous" else OTHER_ENDPOINTS[(method, endpoint)][role]

    response = getattr(client_as(role), method)(url, body)

    assert response.status_code == expected, response.json()


def test_a_session_sees_what_a_token_of_the_same_user_sees(client_for, author, viewer):
    draft = IncidentFactory(status=ReviewStatus.DRAFT)
    draft.authors.add(author)
    url = reverse("postmortems-api:incident-detail", args=[draft.slug])
    session = APIClient()
    session.force_login(viewer)

    assert session.get(url).status_code == client_for(viewer).get(url).status_code == 404


# An incident's timeline: reading it is reading the incident; adding, editing or deleting
# an event is editing it (deleting an event is not deleting the postmortem).
TIMELINE_READ = INCIDENT_ACTIONS["retrieve"]
TIMELINE_WRITE = INCIDENT_ACTIONS["update"]
TIMELINE_ACTIONS = {
    "list": TIMELINE_READ,
    "retrieve": TIMELINE_READ,
    "create": {role: tuple(201 if c == 200 else c for c in codes)
               for role, codes in TIMELINE_WRITE.items()},
    "update": TIMELINE_WRITE,
    "delete": {role: tuple(204 if c == 200 else c for c in codes)
               for role, codes in TIMELINE_WRITE.items()},
}  # fmt: skip


def timeline_request(client: APIClient, action: str, incident):
    event = TimelineEventFactory(incident=incident, occurred_at=incident.started_at)
    events_url = reverse("timeline-api:event-list", args=[incident.slug])
    event_url = reverse("timeline-api:event-detail", args=[incident.slug, event.pk])
    if_match = f'"{incident.version}"'
    if action == "list":
        return client.get(events_url)
    if action == "retrieve":
        return client.get(event_url)
    if action == "create":
        body = {"occurred_at": "2024-03-01T12:30:00Z"}
        return client.post(events_url, body, HTTP_IF_MATCH=if_match)
    if action == "update":
        return client.patch(event_url, {"description": "Edited."}, HTTP_IF_MATCH=if_match)
    return client.delete(event_url, HTTP_IF_MATCH=if_match)


@pytest.mark.parametrize("action", list(TIMELINE_ACTIONS))
@pytest.mark.parametrize("role", ROLES)
def test_timeline_permission_matrix(client_as, author, action, role):
    client = client_as(role)
    expected = ANONYMOUS if role == "anonymous" else TIMELINE_ACTIONS[action][role]
    for status, code in zip(STATUSES, expected, strict=True):
        incident = IncidentFactory(status=status)
        incident.authors.add(author)

        response = timeline_request(client, action, incident)

        assert response.status_code == code, (action, role, status, response.content)
