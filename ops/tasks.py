from celery import shared_task

from ops import services


@shared_task(bind=True)
def record_heartbeat(self) -> str:
    beat = services.record_heartbeat(hostname=self.request.hostname or "unknown")
    return f"heartbeat from {beat.hostname}"
