from celery import shared_task

from patterns import services
from postmortems.tasks import take_counts


@shared_task
def refresh_patterns() -> str:
    # The pages' published counts change when patterns do; another worker takes them.
    take_counts.delay()
    summary = services.refresh_patterns()
    # Separately: warming takes a query per incident and must not hold up the refresh.
    warm_related_lists.delay()
    return str(summary)


@shared_task
def warm_related_lists() -> str:
    return f"{services.warm_related_lists()} related lists cached"
