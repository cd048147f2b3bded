from celery import shared_task

from patterns import services


@shared_task
def refresh_patterns() -> str:
    return str(services.refresh_patterns())
