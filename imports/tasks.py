from celery import shared_task
from django.dispatch import receiver

from imports import polling, services, signals


@shared_task(bind=True, max_retries=3, default_retry_delay=30)
def run_import_job(self, job_id: str) -> str:
    report = services.run_import_job(job_id)
    if report is None:
        return f"job {job_id} already finished"
    return (
        f"job {job_id}: {report.created} created, {report.updated} updated, {report.failed} failed"
    )


@receiver(signals.import_queued)
def queue_import_job(sender, job_id: str, **kwargs) -> None:
    run_import_job.delay_on_commit(job_id)


@shared_task
def poll_due_sources() -> str:
    ids = polling.claim_due_sources()
    for source_id in ids:
        poll_source.delay(source_id)
    return f"{len(ids)} sources due"


@shared_task
def poll_source(source_id: int) -> str:
    outcome = polling.poll_source_by_id(source_id)
    return f"source {source_id}: {outcome}"
