from django.db import models


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class QuietWeek(models.TextChoices):
    """What a subscriber receives in a week with nothing new for them."""

    NOTE = "note", "A short “nothing new” note"
    SKIP = "skip", "Nothing"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Being prepared by a worker"
    # The message's last byte went to the mail server but its reply was never recorded
    # (the worker died or the connection dropped). It may well have been delivered, so it
    # is never sent again by itself: two digests are worse than an unconfirmed one.
    HANDED_OVER = "handed_over", "Handed to the mail server, reply not recorded"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Not sent (quiet week or unsubscribed)"
    FAILED = "failed", "Failed"
