from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker proved it could run a task end to end.

    Beat schedules ``record_heartbeat`` every minute; the health page reads the
    newest row, so operators can tell a stalled worker from a quiet one.
    """

    hostname = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return f"{self.hostname} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
