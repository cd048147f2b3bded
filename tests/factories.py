from datetime import UTC, datetime

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from postmortems.choices import ActionItemType, FactorRole, ReviewStatus, Severity
from postmortems.models import ActionItem, Factor, FailureCategory, Incident, Vendor
from timeline.choices import EventKind
from timeline.models import TimelineEvent


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class VendorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vendor
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Vendor {n}")
    slug = factory.Sequence(lambda n: f"vendor-{n}")


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    title = factory.Sequence(lambda n: f"Incident {n}")
    slug = factory.Sequence(lambda n: f"incident-{n}")
    severity = Severity.MAJOR
    status = ReviewStatus.PUBLISHED
    started_at = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    summary = "Requests failed."


class TimelineEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimelineEvent

    incident = factory.SubFactory(IncidentFactory)
    occurred_at = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    kind = EventKind.NOTE
    description = "Something happened."


class FactorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Factor

    incident = factory.SubFactory(IncidentFactory)
    role = FactorRole.ROOT_CAUSE
    category = factory.LazyFunction(lambda: FailureCategory.objects.get(slug="software-bug"))
    description = "A bug."


class ActionItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActionItem

    incident = factory.SubFactory(IncidentFactory)
    title = "Add a canary stage"
    type = ActionItemType.PREVENTIVE


class DigestSubscriptionFactory(factory.django.DjangoModelFactory):
    """A confirmed, email-only subscription (Monday 09:00 UTC unless told otherwise)."""

    class Meta:
        model = "digests.DigestSubscription"

    email = factory.Sequence(lambda n: f"reader{n}@example.com")
    confirmed_at = datetime(2024, 1, 1, tzinfo=UTC)


class ImportedIncidentFactory(IncidentFactory):
    """An incident a status-page import created (published, as for a vendor set to
    publish its imports)."""

    origin = "imported"
    import_source = "statuspage"
    external_id = factory.Sequence(lambda n: f"ext-{n}")
