"""Subscribing to the weekly digest from the settings page and from the admin."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import strip_tags

from accounts.services import profile_for
from digests import forms, services, tasks
from digests.choices import DeliveryStatus, QuietWeek, Weekday
from digests.models import DigestDelivery, DigestSubscription
from postmortems.choices import Severity
from postmortems.models import FailureCategory
from tests.factories import DigestSubscriptionFactory, UserFactory, VendorFactory

pytestmark = pytest.mark.django_db

SETTINGS = reverse("accounts:settings")
SUBSCRIBE = reverse("digests:subscribe")
STOP = reverse("digests:stop")


@pytest.fixture(autouse=True)
def outbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return mail.outbox


@pytest.fixture
def queued(monkeypatch):
    """Confirmation tasks queued on commit: recorded, then run as the worker would."""
    ids = []

    def run(subscription_id: int) -> None:
        ids.append(subscription_id)
        services.send_confirmation(subscription_id)

    monkeypatch.setattr(tasks.send_confirmation, "delay", run)
    return ids


@pytest.fixture
def person(viewer):
    viewer.email = "ada@example.com"
    viewer.save()
    return viewer


@pytest.fixture
def signed_in(client, person):
    client.force_login(person)
    return client


def form_data(**overrides) -> dict:
    data = {
        "email": "ada@example.com",
        "weekday": Weekday.MONDAY,
        "hour": 9,
        "time_zone": "UTC",
        "min_severity": "",
        "quiet_week": QuietWeek.NOTE,
    }
    return data | overrides


def subscribe(client, django_capture_on_commit_callbacks, **overrides):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(SUBSCRIBE, form_data(**overrides))


def test_subscribing_with_the_account_address_confirms_it_at_once(
    signed_in, person, queued, outbox, django_capture_on_commit_callbacks
):
    response = subscribe(signed_in, django_capture_on_commit_callbacks, email="ADA@example.com")

    assert response.status_code == 302
    assert response["Location"] == SETTINGS + "#weekly-digest"
    subscription = DigestSubscription.objects.get(user=person)
    assert subscription.is_active
    assert subscription.created_by == person
    assert queued == [] and outbox == []


def test_subscribing_another_address_waits_for_its_confirmation(
    signed_in, person, queued, outbox, django_capture_on_commit_callbacks
):
    response = subscribe(signed_in, django_capture_on_commit_callbacks, email="ada@home.example")

    subscription = DigestSubscription.objects.get(user=person)
    assert subscription.confirmed_at is None
    assert queued == [subscription.pk]
    assert len(outbox) == 1 and outbox[0].to == ["ada@home.example"]
    page = signed_in.get(response["Location"]).content.decode()
    assert "we sent a link to ada@home.example" in page
    assert "Waiting for confirmation" in page


def test_the_confirmation_email_is_queued_only_after_the_commit(
    signed_in, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        signed_in.post(SUBSCRIBE, form_data(email="ada@home.example"))

    assert len(callbacks) == 1 and queued == []


def test_the_schedule_and_filters_are_saved(
    signed_in, person, queued, django_capture_on_commit_callbacks
):
    aws, azure = VendorFactory(name="AWS", slug="aws"), VendorFactory(name="Azure", slug="azure")
    bug = FailureCategory.objects.get(slug="software-bug")

    subscribe(
        signed_in,
        django_capture_on_commit_callbacks,
        weekday=Weekday.FRIDAY,
        hour=16,
        time_zone="Asia/Tokyo",
        vendors=[aws.pk, azure.pk],
        categories=[bug.pk],
        min_severity=Severity.MAJOR,
        quiet_week=QuietWeek.SKIP,
    )

    subscription = DigestSubscription.objects.get(user=person)
    assert (subscription.weekday, subscription.hour, subscription.time_zone) == (
        Weekday.FRIDAY,
        16,
        "Asia/Tokyo",
    )
    assert set(subscription.vendors.all()) == {aws, azure}
    assert list(subscription.categories.all()) == [bug]
    assert (subscription.min_severity, subscription.quiet_week) == (Severity.MAJOR, "skip")


def test_a_new_form_starts_from_the_account_and_its_time_zone(signed_in, person):
    profile = profile_for(person)
    profile.time_zone = "Europe/Paris"
    profile.save()

    form = signed_in.get(SETTINGS).context["digest"].form

    assert form["email"].value() == "ada@example.com"
    assert form["time_zone"].value() == "Europe/Paris"
    assert int(form["weekday"].value()) == Weekday.MONDAY
    assert int(form["hour"].value()) == 9


def test_the_settings_page_says_when_the_next_digest_arrives(signed_in, person):
    DigestSubscriptionFactory(
        user=person, email="ada@example.com", time_zone="Asia/Tokyo", weekday=Weekday.MONDAY
    )

    # Wednesday 18 Nov 2026: the next Monday 09:00 in Tokyo is the 23rd.
    with time_machine.travel(datetime(2026, 11, 18, 12, tzinfo=UTC), tick=False):
        page = signed_in.get(SETTINGS).content.decode()

    assert "Next digest: Monday 23 November, 09:00 Asia/Tokyo" in " ".join(strip_tags(page).split())
    assert reverse("digests:preview") in page


def test_an_address_another_subscription_uses_is_a_form_error(signed_in, person):
    DigestSubscriptionFactory(email="Shared@Example.com")

    response = signed_in.post(SUBSCRIBE, form_data(email="shared@example.com"))

    assert response.status_code == 400
    assert response.context["digest"].form.errors["email"] == [
        "This address already receives the digest."
    ]
    assert not DigestSubscription.objects.filter(user=person).exists()


def test_an_address_claimed_at_the_same_moment_is_still_a_form_error(
    signed_in, person, monkeypatch
):
    checks = forms.DigestSubscriptionForm._post_clean

    def checked_then_claimed(form) -> None:
        checks(form)
        # Another request takes the address after this form checked it: only the
        # database's unique index can tell.
        DigestSubscriptionFactory(email="shared@example.com")

    monkeypatch.setattr(forms.DigestSubscriptionForm, "_post_clean", checked_then_claimed)

    response = signed_in.post(SUBSCRIBE, form_data(email="SHARED@example.com"))

    assert response.status_code == 400
    assert response.context["digest"].form.errors["email"] == [
        "This address already receives the digest."
    ]
    assert not DigestSubscription.objects.filter(user=person).exists()


def test_changing_the_address_needs_the_new_one_confirmed(
    signed_in, person, queued, outbox, django_capture_on_commit_callbacks
):
    subscribe(signed_in, django_capture_on_commit_callbacks)
    assert DigestSubscription.objects.get(user=person).is_active

    subscribe(signed_in, django_capture_on_commit_callbacks, email="ada@work.example")

    subscription = DigestSubscription.objects.get(user=person)
    assert subscription.confirmed_at is None
    assert [message.to for message in outbox] == [["ada@work.example"]]


def test_saving_a_pending_subscription_again_sends_a_fresh_link(
    signed_in, person, queued, outbox, django_capture_on_commit_callbacks
):
    subscribe(signed_in, django_capture_on_commit_callbacks, email="ada@home.example")

    subscribe(signed_in, django_capture_on_commit_callbacks, email="ada@home.example")

    assert len(outbox) == 2
    assert DigestSubscription.objects.get(user=person).confirmed_at is None


def test_saving_other_settings_keeps_the_confirmation(
    signed_in, person, queued, django_capture_on_commit_callbacks
):
    DigestSubscriptionFactory(user=person, email="ada@work.example")

    subscribe(signed_in, django_capture_on_commit_callbacks, email="ada@work.example", hour=7)

    subscription = DigestSubscription.objects.get(user=person)
    assert subscription.is_active and subscription.hour == 7
    assert queued == []


def test_stopping_the_digest_keeps_the_row(signed_in, person):
    DigestSubscriptionFactory(user=person, email="ada@example.com")

    response = signed_in.post(STOP)

    assert response.status_code == 302
    subscription = DigestSubscription.objects.get(user=person)
    assert subscription.unsubscribed_at is not None and not subscription.is_active
    assert "You stopped the digest" in signed_in.get(SETTINGS).content.decode()


def test_subscribing_again_after_stopping_restarts_the_digest(
    signed_in, person, queued, django_capture_on_commit_callbacks
):
    DigestSubscriptionFactory(
        user=person, email="ada@example.com", unsubscribed_at=datetime(2026, 1, 1, tzinfo=UTC)
    )

    subscribe(signed_in, django_capture_on_commit_callbacks)

    assert DigestSubscription.objects.get(user=person).is_active
    assert DigestSubscription.objects.count() == 1


def test_stopping_needs_a_post(signed_in, person):
    DigestSubscriptionFactory(user=person, email="ada@example.com")

    assert signed_in.get(STOP).status_code == 405
    assert DigestSubscription.objects.get(user=person).is_active


def test_signed_out_visitors_cannot_subscribe(client):
    response = client.post(SUBSCRIBE, form_data())

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not DigestSubscription.objects.exists()


def test_no_confirmation_goes_to_a_confirmed_or_deleted_subscription(outbox):
    confirmed = DigestSubscriptionFactory()

    assert "already confirmed" in services.send_confirmation(confirmed.pk)
    assert "no longer exists" in services.send_confirmation(confirmed.pk + 1000)
    assert outbox == []


def test_the_settings_page_costs_the_same_queries_for_few_and_many_filters(signed_in, person):
    subscription = DigestSubscriptionFactory(user=person, email="ada@example.com")
    subscription.vendors.set([VendorFactory(), VendorFactory()])

    with CaptureQueriesContext(connection) as few:
        signed_in.get(SETTINGS)
    subscription.vendors.set([VendorFactory() for _ in range(30)])
    subscription.categories.set(FailureCategory.objects.all()[:20])
    with CaptureQueriesContext(connection) as many:
        signed_in.get(SETTINGS)

    assert len(few) == len(many)


# --- The admin ----------------------------------------------------------------------


@pytest.fixture
def admin_client(client, admin_user):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    return client


def test_an_admin_adds_an_address_without_an_account(
    admin_client, admin_user, queued, outbox, django_capture_on_commit_callbacks
):
    aws = VendorFactory(name="AWS", slug="aws")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:digests_digestsubscription_add"),
            form_data(email="oncall@partner.example", vendors=[aws.pk])
            | {"deliveries-TOTAL_FORMS": 0, "deliveries-INITIAL_FORMS": 0},
        )

    assert response.status_code == 302, response.content.decode()
    subscription = DigestSubscription.objects.get(email="oncall@partner.example")
    assert subscription.user is None and subscription.created_by == admin_user
    assert subscription.confirmed_at is None
    assert list(subscription.vendors.all()) == [aws]
    assert [message.to for message in outbox] == [["oncall@partner.example"]]


def test_the_admin_refuses_an_address_already_subscribed(admin_client):
    DigestSubscriptionFactory(email="oncall@partner.example")

    response = admin_client.post(
        reverse("admin:digests_digestsubscription_add"),
        form_data(email="OnCall@partner.example")
        | {"deliveries-TOTAL_FORMS": 0, "deliveries-INITIAL_FORMS": 0},
    )

    assert response.status_code == 200
    assert "This address already receives the digest." in response.content.decode()
    assert DigestSubscription.objects.count() == 1


def test_the_admin_sends_the_confirmation_again_to_pending_addresses_only(
    admin_client, queued, outbox, django_capture_on_commit_callbacks
):
    pending = DigestSubscriptionFactory(email="pending@example.com", confirmed_at=None)
    confirmed = DigestSubscriptionFactory(email="confirmed@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:digests_digestsubscription_changelist"),
            {"action": "send_confirmation_again", "_selected_action": [pending.pk, confirmed.pk]},
        )

    assert queued == [pending.pk]
    assert [message.to for message in outbox] == [["pending@example.com"]]


def test_the_admin_lists_subscriptions_with_their_state(admin_client):
    DigestSubscriptionFactory(email="pending@example.com", confirmed_at=None)
    DigestSubscriptionFactory(email="gone@example.com", unsubscribed_at=datetime.now(UTC))
    user = UserFactory(username="grace")
    DigestSubscriptionFactory(email="grace@example.com", user=user, min_severity=Severity.MAJOR)

    page = admin_client.get(reverse("admin:digests_digestsubscription_changelist"))
    pending = admin_client.get(
        reverse("admin:digests_digestsubscription_changelist") + "?state=pending"
    )

    text = page.content.decode()
    assert "Monday 09:00 UTC" in text and "major or worse" in text
    for state in ("pending", "unsubscribed", "confirmed"):
        assert f'<td class="field-state">{state}</td>' in text
    assert list(pending.context["cl"].result_list.values_list("email", flat=True)) == [
        "pending@example.com"
    ]


def test_a_subscription_shows_its_deliveries_read_only(admin_client):
    subscription = DigestSubscriptionFactory()
    moment = datetime(2026, 11, 23, 9, tzinfo=UTC)
    DigestDelivery.objects.create(
        subscription=subscription,
        week="2026-W48",
        period_start=moment - timedelta(weeks=1),
        period_end=moment,
        next_attempt_at=moment,
        status=DeliveryStatus.FAILED,
        attempts=8,
        last_error="550 mailbox unavailable",
    )

    page = admin_client.get(
        reverse("admin:digests_digestsubscription_change", args=[subscription.pk])
    )

    assert page.status_code == 200
    assert "2026-W48" in page.content.decode()
    assert "550 mailbox unavailable" in page.content.decode()
    assert 'name="deliveries-0-week"' not in page.content.decode()


def test_deliveries_are_read_only_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:digests_digestdelivery_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:digests_digestdelivery_add")).status_code == 403


def test_adding_an_address_from_code_waits_for_its_confirmation(
    admin_user, queued, outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        subscription = services.add_email_subscriber(
            email="sre@partner.example", created_by=admin_user, hour=7, time_zone="Europe/Paris"
        )

    assert (subscription.created_by, subscription.confirmed_at) == (admin_user, None)
    assert [message.to for message in outbox] == [["sre@partner.example"]]


def test_the_service_refuses_an_address_the_index_already_holds(admin_user):
    DigestSubscriptionFactory(email="sre@partner.example")

    with pytest.raises(services.AddressTaken):
        services.add_email_subscriber(email="SRE@partner.example", created_by=admin_user)

    assert DigestSubscription.objects.count() == 1
