"""Vendors (read and write) and reading the taxonomy, all named by slug."""

import pytest
from django.urls import reverse

from postmortems.models import FailureCategory, Vendor
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db
VENDORS = reverse("postmortems-api:vendor-list")


def vendor_url(slug: str) -> str:
    return reverse("postmortems-api:vendor-detail", args=[slug])


def test_a_vendor_reads_with_its_services(client_for, viewer, acme):
    acme.services.create(name="Object Storage", external_id="cmp-1")

    body = client_for(viewer).get(vendor_url("acme")).json()

    assert body["name"] == "Acme Cloud"
    assert body["services"] == [
        {"id": acme.services.get().id, "vendor": "acme", "name": "Object Storage",
         "external_id": "cmp-1"},
    ]  # fmt: skip


def test_a_new_vendor_without_a_slug_gets_one_from_its_name(client_for, author):
    response = client_for(author).post(
        VENDORS, {"name": "Example Hosting", "kind": "cloud", "website": "https://example.com"}
    )

    assert response.status_code == 201, response.json()
    assert response.json()["slug"] == "example-hosting"
    assert Vendor.objects.get(slug="example-hosting").website == "https://example.com"


def test_a_taken_slug_is_refused(client_for, author, acme):
    response = client_for(author).post(VENDORS, {"name": "Acme", "slug": "acme"})

    assert response.status_code == 400
    assert "already used by Acme Cloud" in error_of(response)["fields"]["slug"][0]


def test_a_vendor_url_must_be_a_url_or_blank(client_for, author):
    refused = client_for(author).post(VENDORS, {"name": "Bad", "website": "not a url"})
    blank = client_for(author).post(VENDORS, {"name": "Fine", "website": ""})

    assert error_of(refused)["fields"] == {"website": ["Enter a valid URL."]}
    assert blank.status_code == 201


def test_a_vendors_slug_cannot_change(client_for, author, acme):
    response = client_for(author).patch(vendor_url("acme"), {"slug": "renamed"})

    assert response.status_code == 400
    assert Vendor.objects.filter(slug="acme").exists()


def test_editing_a_vendor(client_for, author, acme):
    response = client_for(author).patch(vendor_url("acme"), {"notes": "Status page moved."})

    assert response.status_code == 200
    assert Vendor.objects.get(slug="acme").notes == "Status page moved."


def test_change_types_read_by_slug(client_for, viewer):
    url = reverse("postmortems-api:change-type-detail", args=["config-change"])

    body = client_for(viewer).get(url).json()

    assert set(body) == {"slug", "name", "definition"}
    assert body["slug"] == "config-change"


def test_categories_show_their_parent_and_typical_role(client_for, viewer):
    child = FailureCategory.objects.filter(parent__isnull=False).select_related("parent").first()
    url = reverse("postmortems-api:category-detail", args=[child.slug])

    body = client_for(viewer).get(url).json()

    assert body["parent"] == child.parent.slug
    assert body["typical_role"] == child.typical_role
