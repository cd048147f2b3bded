"""Send the weekly digests that are due, through the same path as the beat job."""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from digests import delivery, sending
from digests.choices import DeliveryStatus
from digests.content import DigestCache
from digests.models import DigestDelivery, DigestSubscription
from digests.schedule import DigestPeriod, due_moment_in_week, parse_week, period_ending


class Command(BaseCommand):
    help = (
        "Send the weekly digests that are due now (or those of --week), once each: "
        "digests already sent are never sent again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Build every digest and show what would be sent; send and record nothing.",
        )
        parser.add_argument(
            "--week",
            help="ISO week (2026-W48): the digests due in that week, for each subscriber "
            "whose send time in it has passed.",
        )
        parser.add_argument("--to", metavar="EMAIL", help="Only the subscription of this address.")

    def handle(self, *args, dry_run: bool, week: str | None, to: str | None, **options):
        now = timezone.now()
        subscriptions = self.subscriptions(to)
        due = self.due(now, subscriptions, week)
        if dry_run:
            self.dry_run(due)
            return
        if week:
            created = self.create_for_week(due)
        else:
            created = sending.create_due_deliveries(now, subscriptions)
        ids = self.to_send(now, subscriptions, week)
        self.stdout.write(
            f"{created} new {'delivery' if created == 1 else 'deliveries'}; "
            f"{len(ids)} {'digest' if len(ids) == 1 else 'digests'} to send."
        )
        self.send(ids)

    def subscriptions(self, to: str | None):
        subscriptions = DigestSubscription.objects.all()
        if to:
            subscriptions = subscriptions.filter(email__iexact=to.strip())
            if not subscriptions.active().exists():
                raise CommandError(f"No active digest subscription for {to}.")
        return subscriptions

    def due(self, now, subscriptions, week: str | None) -> list[tuple[int, DigestPeriod]]:
        if not week:
            return sending.due_periods(now, subscriptions)
        try:
            year, number = parse_week(week)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        due, not_yet = [], 0
        for sub in subscriptions.active():
            moment = due_moment_in_week(
                year, number, weekday=sub.weekday, hour=sub.hour, time_zone=sub.time_zone
            )
            if moment > now:
                not_yet += 1
                continue
            due.append((sub.pk, period_ending(moment, sub.time_zone)))
        if not_yet:
            self.stdout.write(f"{not_yet} subscribers' send time in {week} has not come yet.")
        return due

    def create_for_week(self, due: list[tuple[int, DigestPeriod]]) -> int:
        return sending.insert_deliveries(due)

    def to_send(self, now, subscriptions, week: str | None) -> list[int]:
        """Waiting deliveries of these subscribers: of ``week``, or any (earlier retries too)."""
        rows = delivery.waiting(now).filter(subscription__in=subscriptions)
        if week:
            rows = rows.filter(week=week)
        return list(rows.order_by("next_attempt_at", "id").values_list("pk", flat=True))

    def send(self, ids: list[int]) -> None:
        cache, results = DigestCache(), Counter()
        step = max(1, len(ids) // 20)
        for done, pk in enumerate(ids, start=1):
            outcome = delivery.deliver_digest(pk, cache=cache)
            results[outcome.result] += 1
            if outcome.result not in ("sent", "skipped", "not claimed"):
                self.stderr.write(str(outcome))
            if done % step == 0 or done == len(ids):
                self.stdout.write(f"  {done}/{len(ids)} ({dict(results)})")
        self.stdout.write(self.style.SUCCESS(f"Done: {self.summary(results)}."))

    def dry_run(self, due: list[tuple[int, DigestPeriod]]) -> None:
        cache = DigestCache()
        subscriptions = DigestSubscription.objects.with_filters().in_bulk([pk for pk, _ in due])
        sent = set(
            DigestDelivery.objects.exclude(status=DeliveryStatus.PENDING)
            .filter(subscription__in=subscriptions.keys())
            .values_list("subscription_id", "week")
        )
        results = Counter()
        for pk, period in due:
            subscription = subscriptions[pk]
            if (pk, period.week) in sent:
                results["already handled"] += 1
                continue
            message = delivery.digest_email(subscription, period, cache=cache)
            results["would send" if message else "quiet, nothing to send"] += 1
            if message:
                self.stdout.write(f"  {subscription.email}: {message.subject}")
        self.stdout.write(self.style.SUCCESS(f"Dry run: {self.summary(results)}."))

    @staticmethod
    def summary(results: Counter) -> str:
        return ", ".join(f"{count} {name}" for name, count in results.items()) or "nothing due"
