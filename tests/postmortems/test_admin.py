from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.urls import reverse

from postmortems.demo.loader import load_demo
from postmortems.models import ChangeType, Incident
from postmortems.services import IncidentChanges, update_incident

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


class FormFields(HTMLParser):
    """The values a browser would submit from the page's first form with ``id``."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside, self.data = form_id, False, {}
        self._textarea = self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside or not a.get("name"):
            if tag == "option" and self._select and "selected" in a:
                self.data.setdefault(self._select, []).append(a.get("value", ""))
            return
        name = a["name"]
        if tag == "input" and a.get("type") not in ("submit", "checkbox", "file"):
            self.data[name] = a.get("value", "")
        elif tag == "input" and a.get("type") == "checkbox" and "checked" in a:
            self.data[name] = a.get("value", "on")
        elif tag == "textarea":
            self._textarea, self.data[name] = name, ""
        elif tag == "select":
            self._select = name

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self.inside = False


def change_form(client, url: str) -> dict:
    parser = FormFields("incident_form")
    parser.feed(client.get(url).content.decode())
    # The moments are split date / time widgets in the admin; the text areas start with
    # the newline Django writes after the tag.
    return {k: (v.removeprefix("\n") if isinstance(v, str) else v) for k, v in parser.data.items()}


def test_an_admin_save_against_an_older_version_is_refused_and_changes_nothing(staff_client):
    incident = Incident.objects.get(slug="azure-leap-day-2012-02")
    url = reverse("admin:postmortems_incident_change", args=[incident.id])
    opened = change_form(staff_client, url)  # opened in the admin at this version
    update_incident(
        incident_id=incident.id,
        expected_version=incident.version,
        changes=IncidentChanges(fields={"title": "Renamed in the editor meanwhile"}),
    )

    response = staff_client.post(url, {**opened, "title": "The admin's title"})

    assert response.status_code == 200  # the form again, with the error
    assert "Someone saved this postmortem after you opened it" in response.content.decode()
    incident.refresh_from_db()
    assert incident.title == "Renamed in the editor meanwhile"


def test_an_admin_save_of_the_current_version_goes_through_and_moves_the_version(staff_client):
    incident = Incident.objects.get(slug="azure-leap-day-2012-02")
    url = reverse("admin:postmortems_incident_change", args=[incident.id])

    response = staff_client.post(url, {**change_form(staff_client, url), "title": "Leap day"})

    assert response.status_code == 302, response.content.decode()[:3000]
    saved = Incident.objects.get(pk=incident.pk)
    assert (saved.title, saved.version) == ("Leap day", incident.version + 1)
