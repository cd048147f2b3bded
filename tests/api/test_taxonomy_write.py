"""Adding and editing the taxonomy's terms through the API: admins write, everyone reads."""

import pytest
from django.urls import reverse

from postmortems.models import ChangeType, FailureCategory
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db
CATEGORIES = reverse("postmortems-api:category-list")
CHANGE_TYPES = reverse("postmortems-api:change-type-list")
CLOCK_SKEW = {
    "slug": "clock-skew",
    "name": "Clock skew",
    "definition": "Hosts disagreed about the time.",
    "parent": "time-handling",
    "typical_role": "root_cause",
}


def category_url(slug: str) -> str:
    return reverse("postmortems-api:category-detail", args=[slug])


@pytest.mark.parametrize("role", ["viewer", "author", "reviewer"])
def test_only_admins_add_categories(client_for, request, role):
    response = client_for(request.getfixturevalue(role)).post(CATEGORIES, CLOCK_SKEW)

    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    assert not FailureCategory.objects.filter(slug="clock-skew").exists()


def test_an_admin_adds_a_category_that_a_factor_can_then_use(
    client_for, admin_user, author, incident_by
):
    created = client_for(admin_user).post(CATEGORIES, CLOCK_SKEW)
    incident = incident_by(author)

    labelled = client_for(author).patch(
        reverse("postmortems-api:incident-detail", args=[incident.slug]),
        {"factors": [{"category": "clock-skew", "role": "root_cause"}], "version": 1},
        format="json",
    )

    assert created.status_code == 201, created.json()
    assert created.json() == CLOCK_SKEW
    assert labelled.status_code == 200, labelled.json()
    assert labelled.json()["factors"][0]["category"] == "clock-skew"


def test_everyone_signed_in_reads_a_new_category(client_for, admin_user, viewer):
    client_for(admin_user).post(CATEGORIES, CLOCK_SKEW)

    response = client_for(viewer).get(category_url("clock-skew"))

    assert response.status_code == 200
    assert response.json()["parent"] == "time-handling"


def test_a_slug_in_use_is_refused_with_a_field_error(client_for, admin_user):
    response = client_for(admin_user).post(CATEGORIES, {**CLOCK_SKEW, "slug": "software-bug"})

    assert response.status_code == 400
    assert error_of(response)["fields"] == {
        "slug": ["The slug “software-bug” is already used by “Software bug”. Choose another."]
    }
    assert FailureCategory.objects.filter(slug="software-bug").count() == 1


def test_a_term_needs_a_name_and_a_definition(client_for, admin_user):
    response = client_for(admin_user).post(CHANGE_TYPES, {"slug": "dns-change"})

    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"name", "definition"}


def test_an_admin_adds_and_renames_a_change_type(client_for, admin_user):
    client = client_for(admin_user)
    client.post(
        CHANGE_TYPES, {"slug": "dns-change", "name": "DNS", "definition": "Records changed."}
    )

    response = client.patch(
        reverse("postmortems-api:change-type-detail", args=["dns-change"]),
        {"name": "DNS change"},
    )

    assert response.status_code == 200, response.json()
    assert ChangeType.objects.get(slug="dns-change").name == "DNS change"


def test_a_terms_slug_cannot_change(client_for, admin_user):
    response = client_for(admin_user).patch(category_url("software-bug"), {"slug": "bug"})

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["slug"]
    assert FailureCategory.objects.filter(slug="software-bug").exists()


def test_a_category_cannot_be_placed_under_its_own_child(client_for, admin_user):
    # time-handling is a child of software-bug in the seeded taxonomy.
    response = client_for(admin_user).patch(
        category_url("software-bug"), {"parent": "time-handling"}
    )

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["parent"]
    assert FailureCategory.objects.get(slug="software-bug").parent is None
