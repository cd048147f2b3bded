import pytest
from django.contrib import admin
from django.urls import reverse

from postmortems.demo.loader import load_demo
from postmortems.models import ChangeType, Incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, admin_user):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    load_demo()
    return client


OUR_APPS = {"postmortems", "timeline", "ops", "accounts"}


@pytest.mark.parametrize(
    "model",
    [m for m in admin.site._registry if m._meta.app_label in OUR_APPS],
    ids=lambda m: m._meta.label_lower,
)
def test_every_registered_model_lists_and_offers_an_add_form(staff_client, model):
    opts = model._meta
    changelist = staff_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    add = staff_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))

    assert changelist.status_code == 200
    assert add.status_code == 200


def test_incident_change_page_shows_timeline_factors_and_action_items(staff_client):
    incident = Incident.objects.get(slug="azure-leap-day-2012-02")

    page = staff_client.get(reverse("admin:postmortems_incident_change", args=[incident.id]))

    assert page.status_code == 200
    html = page.content.decode()
    for heading in ("Timeline events", "Factors", "Action items", "Incident vendors", "Sources"):
        assert heading in html
    assert "Guest agents in new VMs compute a certificate expiry" in html


def test_incident_list_filters_by_change_type(staff_client):
    url = reverse("admin:postmortems_incident_changelist")

    time_event = ChangeType.objects.get(slug="time-event")

    page = staff_client.get(url, {"change_types__id__exact": time_event.id})

    assert page.status_code == 200
    assert "Leap-day certificate bug" in page.content.decode()
    assert "Blob" not in page.content.decode()
