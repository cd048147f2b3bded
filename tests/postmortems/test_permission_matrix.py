"""Every role, every page and action, every review status: drafts included.

``author`` wrote all three incidents; ``other_author`` is an author who did not.
Expected codes: 200 shown, 302 done (redirect), 403 seen but not allowed,
404 not even visible (drafts stay secret), "login" sent to sign in.
"""

import pytest
from django.urls import reverse

from postmortems.choices import ReviewStatus
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "viewer", "author", "other_author", "reviewer", "admin_user"]
STATUSES = [ReviewStatus.DRAFT, ReviewStatus.IN_REVIEW, ReviewStatus.PUBLISHED]

# {page: {role: (draft, in_review, published)}}
READ = {
    "anonymous": ("login",) * 3,
    "viewer": (404, 404, 200),
    "author": (200, 200, 200),
    "other_author": (404, 404, 200),
    "reviewer": (200, 200, 200),
    "admin_user": (200, 200, 200),
}
EXPECTED = {
    "detail": READ,
    "export": READ,
    "edit": {
        "anonymous": ("login",) * 3,
        "viewer": (404, 404, 403),
        "author": (200, 200, 200),
        "other_author": (404, 404, 403),
        "reviewer": (403, 200, 200),
        "admin_user": (200, 200, 200),
    },
    "submit": {
        "anonymous": ("login",) * 3,
        "viewer": (404, 404, 403),
        "author": (302, 403, 403),
        "other_author": (404, 404, 403),
        "reviewer": (403, 403, 403),
        "admin_user": (302, 403, 403),
    },
    "publish": {
        "anonymous": ("login",) * 3,
        "viewer": (404, 404, 403),
        "author": (403, 403, 403),
        "other_author": (404, 404, 403),
        "reviewer": (403, 302, 403),
        "admin_user": (403, 302, 403),
    },
}


def request(client, page: str, slug: str):
    if page in ("detail", "export", "edit"):
        name = {"detail": "incident-detail", "export": "incident-export", "edit": "incident-edit"}
        return client.get(reverse(f"postmortems:{name[page]}", args=[slug]))
    return client.post(
        reverse("postmortems:incident-review", args=[slug]), {"action": page, "comment": "ok"}
    )


@pytest.mark.parametrize("page", list(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(request_fixture, client, author, page, role):
    user = None if role == "anonymous" else request_fixture.getfixturevalue(role)
    if user is not None:
        client.force_login(user)
    for status, expected in zip(STATUSES, EXPECTED[page][role], strict=True):
        incident = IncidentFactory(status=status)
        incident.authors.add(author)

        response = request(client, page, incident.slug)

        if expected == "login":
            assert response.status_code == 302, (page, role, status)
            assert response["Location"].startswith(reverse("accounts:login"))
        else:
            assert response.status_code == expected, (page, role, status)


@pytest.fixture
def request_fixture(request):
    return request


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("anonymous", "login"),
        ("viewer", 403),
        ("author", 200),
        ("reviewer", 200),
        ("admin_user", 200),
    ],
)
def test_who_may_start_a_postmortem(request_fixture, client, role, expected):
    if role != "anonymous":
        client.force_login(request_fixture.getfixturevalue(role))

    response = client.get(reverse("postmortems:incident-create"))

    if expected == "login":
        assert response["Location"].startswith(reverse("accounts:login"))
    else:
        assert response.status_code == expected
