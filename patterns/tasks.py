from celery import shared_task

from patterns import services


@shared_task
def refresh_patterns() -> str:
    summary = services.refresh_patterns()
    # Separately: warming takes a query per incident and must not hold up the refresh.
    warm_related_lists.delay()
    return str(summary)


@shared_task
def warm_related_lists() -> str:
    return f"{services.warm_related_lists()} related lists cached"
